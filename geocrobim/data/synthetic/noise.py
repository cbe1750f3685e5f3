"""Seamless value noise evaluated in world coordinates (metres).

Every texture of a synthetic scene comes from here. The noise is a function of the
world position only (a hashed integer lattice, smoothly interpolated), never of the
window being rendered, so a scene rendered window by window has no seams and a chip
of a scene is pixel-identical to the same area of the whole scene.

The grid of a window is axis-aligned, so interpolation is separable: the lattice
values under the window (a small ``(ny, nx)`` table) are interpolated along rows,
then along columns. Cost: two gathers and a few multiplies per octave, O(H*W).
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def lattice(gx: np.ndarray, gy: np.ndarray, key: int) -> np.ndarray:
    """Pseudo-random values in [-1, 1) at integer lattice points.

    Args:
        gx: (nx,) int64 lattice columns.
        gy: (ny,) int64 lattice rows.
        key: integer that selects an independent noise field.

    Returns:
        (ny, nx) float32.
    """
    k = np.uint64((key * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & _MASK64)
    hx = gx.astype(np.uint64)[None, :] * np.uint64(0xD6E8FEB86659FD93)
    hy = gy.astype(np.uint64)[:, None] * np.uint64(0xA0761D6478BD642F)
    h = _mix(_mix(hx ^ k) ^ hy)
    return ((h >> np.uint64(40)).astype(np.float32) * np.float32(2.0 / (1 << 24))) - np.float32(1.0)


def _axis(coords: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Lattice index, smoothstep weight and lattice range for one axis."""
    t = coords / cell
    i0 = np.floor(t).astype(np.int64)
    f = (t - i0).astype(np.float32)
    f = f * f * (3.0 - 2.0 * f)
    lo = int(i0.min())
    return i0 - lo, f, lo, int(i0.max()) + 1


def value_noise(xs: np.ndarray, ys: np.ndarray, cell: float, key: int) -> np.ndarray:
    """One octave of smooth value noise on a pixel grid.

    Args:
        xs: (W,) world x of the pixel centres (metres, east).
        ys: (H,) world y of the pixel centres (metres, south).
        cell: lattice spacing in metres (the feature size).
        key: selects the noise field.

    Returns:
        (H, W) float32 in about [-1, 1].
    """
    ix, fx, x_lo, x_hi = _axis(np.asarray(xs, np.float64), cell)
    iy, fy, y_lo, y_hi = _axis(np.asarray(ys, np.float64), cell)
    table = lattice(np.arange(x_lo, x_hi + 1), np.arange(y_lo, y_hi + 1), key)
    fy = fy[:, None]
    rows = table[iy] * (1.0 - fy) + table[iy + 1] * fy  # (H, nx)
    return rows[:, ix] * (1.0 - fx) + rows[:, ix + 1] * fx


def fbm(
    xs: np.ndarray,
    ys: np.ndarray,
    cell: float,
    key: int,
    *,
    gsd: float,
    octaves: int = 4,
    persistence: float = 0.5,
) -> np.ndarray:
    """Fractal (multi-octave) noise whose fine octaves fade below the pixel size.

    Octaves whose cell is smaller than a pixel are skipped but still counted in the
    normalisation, which mimics what a coarser sensor does: it averages fine
    texture away instead of aliasing it into speckle.

    Args:
        xs: (W,) world x of pixel centres, metres.
        ys: (H,) world y of pixel centres, metres.
        cell: coarsest octave's lattice spacing, metres.
        key: selects the noise field.
        gsd: ground sample distance of the grid, metres.
        octaves: number of octaves, each half the cell of the previous.
        persistence: amplitude ratio between successive octaves.

    Returns:
        (H, W) float32, roughly zero-mean with standard deviation about 0.3.
    """
    out = np.zeros((len(ys), len(xs)), np.float32)
    amp, total = 1.0, 0.0
    for octave in range(octaves):
        c = cell / (2**octave)
        total += amp
        # A cell under ~1.5 px is mostly averaged out by the sensor's footprint.
        weight = amp * float(np.clip((c / gsd - 0.75) / 1.5, 0.0, 1.0))
        if weight > 0:
            out += np.float32(weight) * value_noise(xs, ys, c, key * 31 + octave)
        amp *= persistence
    out *= np.float32(1.0 / total)
    return out
