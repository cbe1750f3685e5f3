"""Merged products of a batch, per expression and per group of scenes, in ``OUTDIR/merged/``.

Scenes are grouped by CRS and pixel size (:mod:`.groups`), each group named by a tag
such as ``epsg32633-0.5m``:

- ``<slug>.<crs>-<res>.mask.vrt``: per group, a VRT mosaic of its scenes' mask COGs
  (:mod:`.vrt`) on one grid; masks in another CRS than the product's (``--dst-crs``)
  are first reprojected (nearest neighbour) into mask COGs under ``merged/warped/``
  (:mod:`.reproject`). Skipped, with one line saying why, when the group's scenes are
  far apart;
- ``<slug>.<crs>.gpkg``: per CRS, every scene's polygons in one GeoPackage layer, with a
  ``scene_id`` attribute (the engine's own ``scene`` attribute, the file name, is kept).
  Polygons have no pixel size: the groups of one CRS share it.

The product CRS is ``dst_crs`` when given (everything is reprojected into it), else each
scene's own (nothing is reprojected). Scenes without a CRS cannot be placed and are left
out, with a warning. Products of earlier merges of the same expression that this merge
does not write again (a group that no longer exists, a mosaic now skipped) are removed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geocrobim.batch.groups import Group, Placed, group_scenes, resolution_text
from geocrobim.batch.items import MERGED_DIR
from geocrobim.batch.reproject import MASK_NODATA, group_grid, in_crs, place
from geocrobim.batch.vrt import write_vrt
from geocrobim.errors import UsageError

logger = logging.getLogger(__name__)

_MASK_SUFFIX = ".mask.tif"
#: What a merged product's name looks like after ``<slug>``: ``.epsg32633-0.5m.mask.vrt``,
#: ``.epsg32633.gpkg`` (and ``.qml``), or the names before groups (``.mask.vrt``, ``.gpkg``).
_PRODUCT_NAME = re.compile(r"(\.(epsg\d+|crs-[0-9a-f]{8})(-[0-9.x]+(m|deg)?)?)?\.(mask\.vrt|gpkg|qml)")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MergedProduct:
    """The merged outputs of one group of scenes of one expression (paths absolute).

    Attributes:
        expression: the expression.
        group: the group's tag in file names (``epsg32633-0.5m``).
        crs: the products' CRS (``EPSG:32633``).
        resolution: the mosaic's ``(x, y)`` pixel size, in the CRS's units.
        resolution_text: the same with its unit (``0.5 m``).
        scene_ids: the group's scenes.
        mask: the VRT mosaic; None when it was skipped.
        mask_skipped: why there is no mosaic (the scenes are far apart), else None.
        vector: the GeoPackage with the polygons of every scene in ``crs`` (this group's and
            the other groups' of the same CRS; ``scene_id`` tells them apart).
    """

    expression: str
    group: str
    crs: str
    resolution: tuple[float, float]
    resolution_text: str
    scene_ids: tuple[str, ...]
    mask: Path | None
    mask_skipped: str | None
    vector: Path

    @property
    def scenes(self) -> int:
        return len(self.scene_ids)

    def to_dict(self) -> dict[str, Any]:
        """The product in the ``--json`` summary."""
        return {
            "expression": self.expression, "group": self.group, "crs": self.crs, "resolution": list(self.resolution),
            "scenes": self.scenes, "scene_ids": list(self.scene_ids),
            "mask": None if self.mask is None else str(self.mask), "mask_skipped": self.mask_skipped,
            "vector": str(self.vector),
        }

    def line(self) -> str:
        """One line for people: the group, then where its mosaic and polygons are."""
        mask = f"mosaic {self.mask}" if self.mask is not None else f"no mosaic, {self.mask_skipped}"
        return (f"merged {self.expression!r} [{self.crs}, {self.resolution_text}, {self.scenes} scene(s)]: "
                f"{mask}; polygons {self.vector}")


@dataclass(frozen=True)
class _Entry:
    scene_id: str
    mask: Path
    vector: Path
    crs: str | None


def merge_outputs(
    output_dir: Path,
    records: Sequence[dict[str, Any]],
    dst_crs: str | None = None,
    progress: Progress | None = None,
) -> list[MergedProduct]:
    """Build the merged products from completed ledger records.

    Args:
        output_dir: the batch's output folder.
        records: one completed (``status == "ok"``) record per scene to include.
        dst_crs: product CRS (anything pyproj understands); None: each scene's own.
        progress: ``(done, total)`` callback over the scene files read (one per scene per
            mosaic, one per scene per GeoPackage).

    Returns:
        One product per expression and group, expressions in order of first appearance,
        groups by CRS and pixel size.

    Raises:
        UsageError: ``dst_crs`` is not a CRS.
    """
    target = _target(dst_crs)
    by_expression = _by_expression(output_dir, records)
    if not by_expression:
        return []
    folder = output_dir / MERGED_DIR
    folder.mkdir(exist_ok=True)
    plans = [(slug, expression, group_scenes(_placed(expression, entries, target)))
             for slug, (expression, entries) in _unique_slugs(by_expression).items()]
    ticks = _Ticks(progress, sum(_steps(groups) for _, _, groups in plans))
    products = []
    for slug, expression, groups in plans:
        made = _merge_expression(folder, slug, expression, groups, ticks)
        _remove_stale(folder, slug, {p for m in made for p in (m.mask, m.vector) if p is not None})
        products += made
    return products


def _target(dst_crs: str | None) -> Any | None:
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    try:
        return CRS.from_user_input(dst_crs) if dst_crs else None
    except (CRSError, ValueError) as exc:
        raise UsageError(f"--dst-crs {dst_crs!r} is not a CRS ({exc}); give e.g. EPSG:3857") from None


def _by_expression(output_dir: Path, records: Sequence[dict[str, Any]]) -> dict[str, list[_Entry]]:
    groups: dict[str, list[_Entry]] = {}
    for record in sorted(records, key=lambda r: r["scene_id"]):
        for result in record.get("results", []):
            mask, vector = output_dir / result["mask"], output_dir / result["vector"]
            entry = _Entry(record["scene_id"], mask, vector, record.get("crs"))
            groups.setdefault(result["expression"], []).append(entry)
    return groups


def _placed(expression: str, entries: Sequence[_Entry], target: Any | None) -> list[Placed]:
    """The entries with a CRS, placed in the product CRS; the others are named and left out."""
    placed = []
    for entry in entries:
        if entry.crs is None:
            logger.warning("scene %s has no CRS; the merged %r products leave it out", entry.scene_id, expression)
        else:
            placed.append(place(entry.scene_id, entry.mask, entry.vector, target))
    return placed


def _unique_slugs(groups: dict[str, list[_Entry]]) -> dict[str, tuple[str, list[_Entry]]]:
    """File-name slug per expression: the engine's (from a mask's name), suffixed on collision."""
    out: dict[str, tuple[str, list[_Entry]]] = {}
    for number, (expression, entries) in enumerate(groups.items(), start=1):
        name = entries[0].mask.name
        stem_and_slug = name[: -len(_MASK_SUFFIX)] if name.endswith(_MASK_SUFFIX) else ""
        base = stem_and_slug.split(".")[-1] if "." in stem_and_slug else f"expression-{number}"
        slug, count = base, 1
        while slug in out:
            count += 1
            slug = f"{base}-{count}"
        out[slug] = (expression, entries)
    return out


class _Ticks:
    """Counts merge steps and reports them to a ``(done, total)`` progress callback."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0
        if progress is not None:
            progress(0, total)

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _steps(groups: Sequence[Group]) -> int:
    """Scene files a merge reads: each mosaic's masks and every scene's vector file."""
    return sum(len(g.members) * (1 if g.sparse_reason() else 2) for g in groups)


def _merge_expression(folder: Path, slug: str, expression: str, groups: Sequence[Group],
                      ticks: _Ticks) -> list[MergedProduct]:
    """The mosaic of each group and the GeoPackage of each CRS, for one expression."""
    vectors: dict[str, Path] = {}
    for crs_tag in dict.fromkeys(g.crs_tag for g in groups):
        members = [m for g in groups if g.crs_tag == crs_tag for m in g.members]
        crs = next(g.crs for g in groups if g.crs_tag == crs_tag)
        vectors[crs_tag] = _merge_vectors(members, crs, folder / f"{slug}.{crs_tag}.gpkg", ticks)
    products = []
    for group in groups:
        reason = group.sparse_reason()
        mask = None
        if reason is None:
            mask = _mosaic(group, folder / f"{slug}.{group.tag}.mask.vrt", ticks)
        else:
            logger.warning("merged %r %s: no mosaic, %s; their masks stay in their scene folders, "
                           "their polygons are in %s", expression, group.tag, reason, vectors[group.crs_tag].name)
        products.append(MergedProduct(
            expression, group.tag, group.crs_name, group.res, resolution_text(group.res, group.crs),
            tuple(m.scene_id for m in group.members), mask, reason, vectors[group.crs_tag],
        ))
    return products


def _mosaic(group: Group, path: Path, ticks: _Ticks) -> Path:
    """The group's VRT mosaic at ``path``; masks in another CRS reprojected onto its grid first."""
    grid = group_grid(group)
    sources = []
    for member in group.members:
        sources.append(in_crs(member, path.parent / "warped", grid))
        ticks()
    return write_vrt(sources, path, nodata=MASK_NODATA)


def _remove_stale(folder: Path, slug: str, keep: set[Path]) -> None:
    """Remove the products of ``slug`` that this merge did not write (and their styles)."""
    keep_stems = {p.name.split(".mask.vrt")[0].removesuffix(".gpkg") for p in keep}
    for path in folder.glob(f"{slug}.*"):
        rest = path.name[len(slug):]
        if path.is_file() and path not in keep and _PRODUCT_NAME.fullmatch(rest):
            if path.suffix == ".qml" and path.name.removesuffix(".qml") in keep_stems:
                continue
            logger.info("removing %s, a merged product of an earlier run that this merge replaces", path.name)
            path.unlink()


def _merge_vectors(scenes: Sequence[Placed], target: Any, path: Path, ticks: _Ticks) -> Path:
    """Every scene's polygons in one layer in ``target``, with its ``scene_id``."""
    import geopandas as gpd
    import pandas as pd
    import rasterio

    from geocrobim.vector import write_vector

    frames = []
    for scene in scenes:
        if scene.vector.suffix == ".parquet":
            layer = gpd.read_parquet(scene.vector)
        else:  # a GeoPackage also holds the layer_styles table: name the layer (the engine names it by the file)
            layer = gpd.read_file(scene.vector, layer=scene.vector.stem if scene.vector.suffix == ".gpkg" else None)
        if layer.crs is None:  # a format without CRS: the scene's, which its mask has
            with rasterio.open(scene.mask) as src:
                layer = layer.set_crs(src.crs)
        layer = layer.to_crs(target)
        layer.insert(0, "scene_id", scene.scene_id)
        frames.append(layer)
        ticks()
    merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=target)
    return write_vector(merged, path, format="gpkg", layer=path.stem, overwrite=True)
