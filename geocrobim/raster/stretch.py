"""One radiometric stretch per scene: any real dtype to the model's uint8 RGB.

Peers stretch every tile by its own min/max, which makes neighbouring tiles disagree and
draws seams. Here the percentiles come once from a cheap whole-scene sample (overviews, a
decimated read, or block-aligned windows spread over the scene), valid pixels only, and the
same :class:`Stretch` is applied to every window (the map itself lives with the reads that
apply it, :mod:`geocrobim.raster.reading`; this module computes its parameters).

uint8 imagery is already display-ready and close to what the model was trained on, so it
passes through unchanged unless the user gives a ``value_range``.
"""

from __future__ import annotations

import logging

import numpy as np
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from geocrobim.errors import UsageError
from geocrobim.raster.reading import Stretch, read_decimated, read_error, unique_bands, valid_from_masks
from geocrobim.raster.scene import Scene

logger = logging.getLogger(__name__)

#: Longest side of the decimated sample used for the statistics.
SAMPLE_SIZE = 1024
#: Scenes up to this many pixels without overviews are sampled by one decimated read
#: (GDAL decodes every block once); bigger ones by windows spread over the scene.
DECIMATED_READ_MAX_PIXELS = 4096 * 4096
#: Sampled windows per axis for big scenes without overviews (8 x 8 windows).
SAMPLE_WINDOWS_PER_AXIS = 8
#: Side of each sampled window, before snapping to the file's blocks.
SAMPLE_WINDOW_SIZE = 256


def compute_stretch(
    src: DatasetReader,
    scene: Scene,
    value_range: tuple[float, float] | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> Stretch:
    """The scene's stretch, computed once from a whole-scene sample of valid pixels.

    Args:
        src: The scene's open dataset.
        scene: The scene from :func:`open_scene`.
        value_range: ``(low, high)`` data values mapped to 0 and 255 for all bands (the
            CLI's ``--range``); skips the statistics.
        percentiles: Lower and upper percentiles of each band's valid pixels mapped to 0
            and 255 (ignored for uint8 data, which passes through).

    Returns:
        The :class:`Stretch` to apply to every window of the scene.

    Raises:
        UsageError: ``value_range`` or ``percentiles`` are not increasing.
    """
    if value_range is not None:
        low, high = (float(v) for v in value_range)
        if not np.isfinite(low) or not np.isfinite(high) or not high > low:
            raise UsageError(f"--range must be two finite numbers LOW,HIGH with LOW < HIGH, got {low},{high}")
        return Stretch.from_range(low, high)
    p_low, p_high = percentiles
    if not 0.0 <= p_low < p_high <= 100.0:
        raise UsageError(f"percentiles must satisfy 0 <= low < high <= 100, got {p_low}, {p_high}")
    if scene.dtype == "uint8":  # also a colour table's colours (expanded on read)
        return Stretch.from_range(0, 255)
    data, valid = sample_scene(src, scene)
    total = valid.size
    lows = np.empty(3)
    highs = np.empty(3)
    fraction = float(valid.sum()) / total if total else 0.0
    for c in range(3):
        values = data[c][valid & np.isfinite(data[c])]
        if values.size == 0:
            lows[c], highs[c] = _fallback_range(scene.dtype)
            continue
        lo, hi = np.percentile(values, [p_low, p_high])
        if not hi > lo:  # a constant band: put its value at the bottom instead of dividing by 0
            hi = lo + 1.0
        lows[c], highs[c] = lo, hi
    if fraction == 0.0:
        logger.info("no valid pixel in the statistics sample of %s; using the dtype range", scene.path)
    stretch = Stretch(lows, highs, identity=False, valid_fraction=fraction)
    logger.debug("stretch for %s: low %s high %s (valid %.3f)", scene.path, lows, highs, fraction)
    return stretch


def _fallback_range(dtype: str) -> tuple[float, float]:
    """Range used when a band has no valid sample: the integer dtype's range, or [0, 1]."""
    if dtype.startswith("float"):
        return (0.0, 1.0)
    info = np.iinfo(np.dtype(dtype))
    return (float(info.min), float(info.max))


def sample_scene(src: DatasetReader, scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """A whole-scene sample of the selected bands and its validity.

    Uses a decimated read (GDAL serves it from overviews when the file has them) for
    scenes with overviews or up to :data:`DECIMATED_READ_MAX_PIXELS`; otherwise reads an
    8 x 8 grid of block-aligned windows, so the cost does not grow with scene size.

    Returns:
        ``(data (3, n_rows, n_cols), valid (n_rows, n_cols) bool)``; data in the scene's dtype.
    """
    if scene.overviews or scene.width * scene.height <= DECIMATED_READ_MAX_PIXELS:
        return read_decimated(src, scene, scene.downsampled_shape(SAMPLE_SIZE))
    unique, channel = unique_bands(scene)
    pieces: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for window in _sample_windows(scene):
        try:
            data = src.read(unique, window=window, out_dtype=scene.dtype)
            valid = valid_from_masks(src, scene, unique, data, window=window)
        except RasterioError as exc:
            raise read_error(scene, window, exc) from exc
        pieces.append(data.reshape(len(unique), 1, -1))
        masks.append(valid.reshape(1, -1))
    data = np.concatenate(pieces, axis=2)
    return data[channel], np.concatenate(masks, axis=1)


def _sample_windows(scene: Scene) -> list[Window]:
    """An even grid of windows snapped to block origins (whole blocks decode once)."""
    block_rows, block_cols = scene.block_shape
    size_r = min(SAMPLE_WINDOW_SIZE, scene.height)
    size_c = min(SAMPLE_WINDOW_SIZE, scene.width)
    windows = []
    n = SAMPLE_WINDOWS_PER_AXIS
    for i in range(n):
        row = int((i + 0.5) * scene.height / n - size_r / 2)
        row = (max(0, min(scene.height - size_r, row)) // block_rows) * block_rows
        for j in range(n):
            col = int((j + 0.5) * scene.width / n - size_c / 2)
            col = (max(0, min(scene.width - size_c, col)) // block_cols) * block_cols
            windows.append(Window(col, row, size_c, size_r))
    return windows
