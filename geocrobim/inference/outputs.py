"""Output names and all-or-nothing writing.

Per expression, in the output folder::

    <scene-stem>.<slug>.mask.tif        uint8 0/1 mask COG, nodata 255 on invalid pixels
    <scene-stem>.<slug>.mask.tif.qml    QGIS style for the mask
    <scene-stem>.<slug>.prob.tif        uint8 0-255 probability COG (with --probabilities)
    <scene-stem>.<slug>.<ext>           instances as polygons (gpkg, geojson, shp, fgb, parquet)
    <scene-stem>.<slug>.quicklook.png   the object on the scene, a detail if it is small, a caption
                                        (expression, score, scale): geocrobim.raster.quicklook

Every file of a run is first written into a hidden staging folder inside the output
folder (same filesystem, so the final ``os.replace`` is atomic per file) and moved to
its final name only after the whole run succeeded. A failure anywhere removes the
staging folder and leaves no file at any final path. Multi-file formats (a Shapefile
and its sidecars, a ``.qml`` next to a COG) move along with their main file.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from geocrobim.choices import VECTOR_FORMATS
from geocrobim.errors import OutputError, UsageError

logger = logging.getLogger(__name__)

#: Extra files some formats or styles put beside the main file.
_SIDECARS = (".qml", ".shx", ".dbf", ".prj", ".cpg")


@dataclass(frozen=True)
class ExpressionPaths:
    """Final output paths of one expression (``probabilities`` None unless asked for)."""

    mask: Path
    vector: Path
    quicklook: Path
    probabilities: Path | None = None

    def files(self) -> list[Path]:
        """Main files (no sidecars), in writing order."""
        return [p for p in (self.mask, self.probabilities, self.vector, self.quicklook) if p is not None]

    def to_dict(self) -> dict[str, str | None]:
        """JSON-able view with absolute paths."""
        return {
            "mask": str(self.mask),
            "probabilities": str(self.probabilities) if self.probabilities else None,
            "vector": str(self.vector),
            "quicklook": str(self.quicklook),
        }


def vector_extension(vector_format: str) -> str:
    """File extension of a vector format (each format's extension is its name), or
    :class:`UsageError` naming the choices."""
    name = vector_format.lower() if isinstance(vector_format, str) else vector_format
    if name not in VECTOR_FORMATS:
        raise UsageError(f"vector format {vector_format!r} is not supported; use one of {', '.join(VECTOR_FORMATS)}")
    return name


def plan_outputs(
    output_dir: Path, stem: str, slugs: list[str], *, vector_format: str, probabilities: bool
) -> list[ExpressionPaths]:
    """Final paths for each expression (see the module docstring for the naming)."""
    ext = vector_extension(vector_format)
    base = output_dir.resolve()
    return [
        ExpressionPaths(
            mask=base / f"{stem}.{slug}.mask.tif",
            vector=base / f"{stem}.{slug}.{ext}",
            quicklook=base / f"{stem}.{slug}.quicklook.png",
            probabilities=base / f"{stem}.{slug}.prob.tif" if probabilities else None,
        )
        for slug in slugs
    ]


class Staging:
    """A hidden folder in the output folder where a run writes; committed or discarded as a whole.

    Use as a context manager: leaving it with an exception removes everything staged, and
    the output folder too when entering created it and it is still empty.

    Args:
        output_dir: the final folder (created on entering if missing: when the run is about to write).
        overwrite: allow replacing existing final files.
    """

    def __init__(self, output_dir: Path, *, overwrite: bool = False) -> None:
        self.output_dir = Path(output_dir)
        self.overwrite = overwrite
        self.dir: Path | None = None
        self.work: Path | None = None
        self.created: list[Path] = []

    def check(self, finals: list[Path]) -> None:
        """Refuse existing final files unless ``overwrite``; fail early, before any model work."""
        if self.overwrite:
            return
        existing = [p for p in finals if p.exists() or p.is_symlink()]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise OutputError(f"output {existing[0]} already exists{more}; pass --overwrite or choose another -o folder")

    def __enter__(self) -> Staging:
        chain = [self.output_dir, *self.output_dir.parents]
        self.created = chain[: next(i for i, p in enumerate(chain) if p.exists())]  # the folders mkdir makes
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self.dir = Path(tempfile.mkdtemp(prefix=".geocrobim-", dir=self.output_dir))
        except OSError as exc:
            raise OutputError(
                f"cannot write to output folder {self.output_dir} ({exc.strerror or exc}); "
                "choose a writable folder with -o"
            ) from exc
        self.work = self.dir / "work"
        self.work.mkdir()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if exc_type is not None:
            for folder in self.created:  # deepest first; a folder that holds anything stays
                try:
                    folder.rmdir()
                except OSError:
                    break
        self.created = []

    def path(self, final: Path) -> Path:
        """Where to write the staged copy of ``final``."""
        if self.dir is None:
            raise RuntimeError("Staging is not open")
        return self.dir / final.name

    def commit(self, finals: list[Path]) -> None:
        """Move every staged file (and its sidecars) to its final path.

        Checks all targets first, so an ``--overwrite``-less run that finds a file which
        appeared meanwhile moves nothing.
        """
        if self.dir is None:
            raise RuntimeError("Staging is not open")
        moves: list[tuple[Path, Path]] = []
        for final in finals:
            staged = self.path(final)
            if not staged.exists():
                raise OutputError(f"internal error: {final.name} was not written; nothing was saved")
            moves.append((staged, final))
            for suffix in _SIDECARS:
                for side in (staged.with_suffix(suffix), staged.with_name(staged.name + suffix)):
                    if side.exists() and side != staged and all(side != s for s, _ in moves):
                        moves.append((side, final.parent / side.name))
        self.check([dst for _, dst in moves])
        for _, dst in moves:
            if dst.is_dir():
                raise OutputError(f"output {dst} is a folder; remove it or choose another -o folder")
        for src, dst in moves:
            os.replace(src, dst)
        logger.debug("committed %d files to %s", len(moves), self.output_dir)
