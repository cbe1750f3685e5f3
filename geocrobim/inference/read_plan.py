"""The reading plan: at which ground sample distance (GSD) windows are read.

The model was trained at some GSD (``Predictor.gsd``, from the checkpoint's
metadata). A source finer than that is read downsampled: each window covers
``footprint = tile * reading_gsd / source_gsd`` source pixels and is read with
``out_shape=(tile, tile)`` through rasterio's resampling. The model's probabilities
are resized back to ``footprint`` pixels before blending, so every output stays on
the source's own grid.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from geocrobim.errors import UsageError
from geocrobim.inference.options import MAX_TILE, MIN_TILE
from geocrobim.raster import grid
from geocrobim.run_warnings import warn

logger = logging.getLogger(__name__)

__all__ = ["MAX_TILE", "MIN_TILE", "ReadPlan", "plan_reading", "validate_tiling"]


@dataclass(frozen=True)
class ReadPlan:
    """How the fine pass tiles the scene.

    Attributes:
        tile: window side in pixels at the reading GSD (what the model receives).
        overlap: overlap between neighbouring windows, in the same pixels.
        footprint: window side in source pixels (``tile`` scaled by the GSD ratio).
        source_overlap: ``overlap`` in source pixels.
        source_gsd_m: the source's pixel size in metres (None without a CRS).
        reading_gsd_m: the GSD the model sees (None without a CRS).
    """

    tile: int
    overlap: int
    footprint: int
    source_overlap: int
    source_gsd_m: float | None
    reading_gsd_m: float | None

    @property
    def resampled(self) -> bool:
        """True when windows are read at a GSD other than the source's."""
        return self.footprint != self.tile

    def to_dict(self) -> dict[str, object]:
        """JSON-able view (the ``reading`` object of the ``--json`` summary)."""
        return {
            "tile_size": self.tile,
            "overlap": self.overlap,
            "footprint_px": self.footprint,
            "source_gsd_m": _round(self.source_gsd_m),
            "reading_gsd_m": _round(self.reading_gsd_m),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def validate_tiling(tile: int, overlap: int | None) -> tuple[int, int]:
    """Check tile size and overlap; fill the default overlap (a quarter tile, rounded up).

    Raises:
        UsageError: tile outside [MIN_TILE, MAX_TILE], overlap negative or not below the tile.
    """
    if overlap is None and isinstance(tile, int) and not isinstance(tile, bool):
        overlap = -(-tile // 4)
    grid.validate_tiling(tile, overlap)  # type: ignore[arg-type]  # validate_tiling checks the types itself and names a bad value
    if not MIN_TILE <= tile <= MAX_TILE:
        raise UsageError(f"tile size {tile} is out of range; use {MIN_TILE} to {MAX_TILE} pixels, e.g. 480")
    return tile, int(overlap)  # type: ignore[arg-type]  # overlap is an int once validate_tiling passed


def plan_reading(
    *,
    tile: int,
    overlap: int | None,
    source_gsd: float | None,
    model_gsd: float | None,
    gsd: float | None = None,
) -> ReadPlan:
    """Decide the reading GSD and the window footprint in source pixels.

    The reading GSD is ``gsd`` when given. Otherwise it is the model's GSD when the
    source is finer, and the source's own GSD when the source is coarser: upsampling
    adds no detail, only cost, and the model was trained over a range of GSDs.

    Args:
        tile: window side in pixels at the reading GSD.
        overlap: window overlap at the reading GSD; None for a quarter tile.
        source_gsd: source pixel size in metres, None without a CRS.
        model_gsd: the GSD the model was trained at, None if unknown.
        gsd: an explicit reading GSD in metres (``--gsd``).

    Raises:
        UsageError: tile/overlap nonsense, or a non-positive ``gsd``.
    """
    tile, overlap = validate_tiling(tile, overlap)
    if gsd is not None and (not math.isfinite(gsd) or gsd <= 0):
        raise UsageError(f"--gsd {gsd!r} must be a positive number of metres per pixel, e.g. 0.5")
    if source_gsd is None:
        if gsd is not None:
            warn(logger, "the raster has no CRS, so --gsd %s cannot be applied; reading at its own resolution", gsd)
        reading = None
    elif gsd is not None:
        reading = gsd
    elif model_gsd is not None and model_gsd > source_gsd:
        reading = model_gsd
    else:
        reading = source_gsd
    scale = 1.0 if reading is None or source_gsd is None else reading / source_gsd
    footprint = max(1, round(tile * scale))
    source_overlap = min(round(overlap * footprint / tile), footprint // 2)
    if scale < 0.25:
        warn(
            logger,
            "reading at %.3g m from a %.3g m source upsamples %.1fx; pass a coarser --gsd if the scene takes too long",
            reading, source_gsd, 1 / scale,
        )
    return ReadPlan(tile, overlap, footprint, source_overlap, source_gsd, reading)
