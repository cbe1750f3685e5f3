"""Turn the command line's inputs into batch items.

Each input is, by its form:

- a folder: every raster below it (``.tif``, ``.tiff``, ``.jp2``, ``.img``, ``.vrt``),
  recursively, hidden files and folders skipped;
- a glob (``"archive/**/*.tif"``, quoted so the shell leaves it alone);
- a raster file;
- a manifest, ``.csv``, ``.yaml``/``.yml`` or ``.jsonl``/``.ndjson`` (:mod:`.manifest`);
- a STAC ItemCollection, Catalog, Collection or Item, ``.json`` (:mod:`.stac`).

Expressions given with ``-e`` apply to every item, after the item's own (manifest,
STAC ``geocrobim:expressions``). Scene ids are slugs of the path relative to the input
root (folder, glob base, manifest folder) without the extension, or the STAC item id.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from geocrobim.batch.items import BatchItem, assign_ids
from geocrobim.batch.manifest import MANIFEST_SUFFIXES, Candidate, read_manifest
from geocrobim.batch.stac import read_stac
from geocrobim.errors import InputNotFoundError, UsageError

#: File extensions taken as rasters in folders and globs.
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".img", ".vrt")


def collect_items(
    inputs: Sequence[str | Path],
    expressions: Sequence[str] = (),
    *,
    asset: str | None = None,
    exclude: Sequence[str | Path] = (),
) -> list[BatchItem]:
    """Items from folders, globs, rasters, manifests and STAC files.

    Args:
        inputs: the inputs, in any mix.
        expressions: sentences for every item.
        asset: STAC asset key (default: ``visual``, else the first GeoTIFF asset).
        exclude: folders never searched (the batch's output folder, when it sits inside
            an input folder, so that masks are not taken for scenes).

    Returns:
        The items, sorted by scene id, each scene once.

    Raises:
        UsageError: no input, nothing found, an item without expressions, a bad manifest.
        InputNotFoundError: an input that does not exist and is not a glob.
    """
    if not inputs:
        raise UsageError("no input given; pass a folder, a glob, a manifest (.csv/.yaml/.jsonl) or a STAC .json")
    extra = [e for e in expressions if e.split()]
    skip = [Path(p).resolve() for p in exclude]
    candidates: list[Candidate] = []
    for entry in inputs:
        found = list(_expand(str(entry), asset, skip))
        if not found:
            raise UsageError(f"input {str(entry)!r} holds no raster ({', '.join(RASTER_SUFFIXES)}); check the path")
        candidates += [(scene, [*own, *extra], proposed) for scene, own, proposed in found]
    return assign_ids(candidates)


def _expand(entry: str, asset: str | None, skip: list[Path]) -> Iterable[Candidate]:
    path = Path(entry).expanduser()
    if path.is_dir():
        return _folder(path.resolve(), skip)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in MANIFEST_SUFFIXES:
            return read_manifest(path)
        if suffix == ".json":
            return read_stac(path, asset)
        return [(path.resolve(), [], path.stem)]
    if glob.has_magic(entry):
        return _glob(entry, skip)
    # `batch scene.tif "the river"`: a sentence where segment would take it; batch takes -e.
    hint = f"; expressions go with -e, e.g. -e {entry!r}" if len(entry.split()) > 1 else ""
    raise InputNotFoundError(
        f"input {entry!r} not found; pass an existing folder, raster, manifest or STAC file, or a glob{hint}"
    )


def _is_raster(path: Path) -> bool:
    return path.suffix.lower() in RASTER_SUFFIXES and not path.name.startswith(".")


def _folder(root: Path, skip: list[Path]) -> Iterable[Candidate]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() not in skip)
        for name in sorted(files):
            path = here / name
            if _is_raster(path):
                yield (path.resolve(), [], str(path.relative_to(root).with_suffix("")))


def _glob(pattern: str, skip: list[Path]) -> Iterable[Candidate]:
    parts = Path(pattern).expanduser().parts
    fixed = parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]
    base = Path(*fixed).resolve() if fixed else Path.cwd()
    for match in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
        path = Path(match).resolve()
        if path.is_file() and _is_raster(path) and not any(path.is_relative_to(s) for s in skip):
            yield (path, [], str(path.relative_to(base).with_suffix("")))
