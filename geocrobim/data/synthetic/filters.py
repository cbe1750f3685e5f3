"""Small numpy image filters for the renderer (no scipy in the dependency set)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def _shift(a: np.ndarray, axis: int, start: int, n: int) -> np.ndarray:
    """``a[start:start + n]`` along ``axis`` (a view)."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, start + n)
    return a[tuple(index)]


def _box(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Mean over a window of 2r+1 samples along ``axis``, edges clamped."""
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float32)
    n = a.shape[axis]
    return (_shift(c, axis, 2 * r + 1, n) - _shift(c, axis, 0, n)) * np.float32(1.0 / (2 * r + 1))


def _tap3(a: np.ndarray, w: float, axis: int) -> np.ndarray:
    """Convolve with [w, 1-2w, w] along ``axis``, edges clamped."""
    pad = [(0, 0)] * a.ndim
    pad[axis] = (1, 1)
    p = np.pad(a, pad, mode="edge")
    n = a.shape[axis]
    return a * np.float32(1 - 2 * w) + (_shift(p, axis, 0, n) + _shift(p, axis, 2, n)) * np.float32(w)


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Approximate Gaussian blur of the first two axes of ``a``.

    Args:
        a: (H, W) or (H, W, C) float32.
        sigma: standard deviation in pixels.

    Returns:
        Array of the same shape, float32.
    """
    a = np.asarray(a, np.float32)
    if sigma <= 0.05:
        return a
    if sigma < 1.0:  # a 3-tap kernel has variance 2w
        w = sigma * sigma / 2
        return _tap3(_tap3(a, w, 0), w, 1)
    # three box passes of width k have variance 3 (k^2 - 1) / 12
    r = max(1, int(round((np.sqrt(4 * sigma * sigma + 1) - 1) / 2)))
    for axis in (0, 1):
        for _ in range(3):
            a = _box(a, r, axis)
    return a


def smooth(a: np.ndarray, sigma: float) -> np.ndarray:
    """Wide blur of a (H, W) float image, computed at reduced resolution.

    For wide kernels the result is smooth anyway, so blurring a k-times smaller copy
    and resizing it back bilinearly costs 1/k^2 of a full-resolution blur.
    """
    k = int(sigma // 2)
    if k < 2:
        return blur(a, sigma)
    h, w = a.shape
    reduced = Image.fromarray(np.ascontiguousarray(a, np.float32), "F").reduce(k)
    small = blur(np.asarray(reduced, np.float32), sigma / k)
    return np.asarray(Image.fromarray(small, "F").resize((w, h), Image.Resampling.BILINEAR), np.float32)


def line_coverage(d: np.ndarray, width: float, gsd: float) -> np.ndarray:
    """Fraction of a pixel covered by a straight line of ``width`` metres.

    Exact for a box pixel: the overlap of [d - w/2, d + w/2] with [-g/2, g/2], so
    lines thinner than a pixel fade instead of vanishing or thickening.

    Args:
        d: signed distance (metres) from each pixel centre to the line's axis.
        width: line width, metres.
        gsd: pixel size, metres.
    """
    d = np.abs(d)
    hi = np.minimum(d + np.float32(width / 2), np.float32(gsd / 2))
    lo = np.maximum(d - np.float32(width / 2), np.float32(-gsd / 2))
    return np.clip(hi - lo, 0.0, None) * np.float32(1.0 / gsd)
