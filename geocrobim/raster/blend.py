"""Blending weights: how much each window's prediction counts at each of its pixels.

Predictions near a window's border see less context and are less reliable, so overlapping
windows are averaged with a weight that is 1 in the window's interior and falls smoothly
(a raised cosine, i.e. half a Hann window) to a small positive floor across the overlap.
The stitcher divides by the sum of weights, so any positive weights give a seam-free,
exactly constant output for a constant model; the ramp only decides who wins in overlaps.
"""

from __future__ import annotations

import numpy as np

from geocrobim.raster.grid import validate_tiling

#: Smallest weight: keeps every weight > 0 so pixels covered by one window's edge only
#: (raster borders, a window next to a skipped one) still normalise to that window's value.
WEIGHT_FLOOR = 1e-3


def ramp_1d(tile: int, overlap: int, floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """One axis of the weight window.

    Args:
        tile: Window length in pixels.
        overlap: Length of the rising (and falling) edge in pixels; 0 gives all ones.
        floor: Weight at the outermost pixel's limit, in (0, 1].

    Returns:
        ``(tile,)`` float64, symmetric, in ``[floor, 1]``, non-decreasing over the first half.
    """
    validate_tiling(tile, overlap)
    weights = np.ones(tile, dtype=np.float64)
    if overlap == 0:
        return weights
    # Sample the raised cosine at pixel centres so the ramp is symmetric and never exactly 0.
    x = (np.arange(overlap, dtype=np.float64) + 0.5) / overlap
    rise = floor + (1.0 - floor) * 0.5 * (1.0 - np.cos(np.pi * x))
    n = min(overlap, tile // 2 + tile % 2)  # an overlap over half the tile: ramps meet mid-window
    weights[:n] = np.minimum(weights[:n], rise[:n])
    weights[tile - n :] = np.minimum(weights[tile - n :], rise[:n][::-1])
    return weights


def blend_weights(tile: int, overlap: int) -> np.ndarray:
    """Separable 2-D weight window for a ``tile x tile`` window.

    Args:
        tile: Window side in pixels.
        overlap: Overlap between neighbouring windows in pixels.

    Returns:
        ``(tile, tile)`` float32, strictly positive, 1 in the interior, symmetric under
        flips and transposition.

    Raises:
        UsageError: ``tile <= 0`` or ``overlap`` outside ``[0, tile)``.
    """
    ramp = ramp_1d(tile, overlap)
    return np.outer(ramp, ramp).astype(np.float32)
