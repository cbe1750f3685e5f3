"""The window grid: overlapping square windows that cover a raster, last row and column shifted inward.

Along an axis of ``n`` pixels with window size ``tile`` and ``overlap``, the stride is
``stride = tile - overlap`` and the offsets are ``0, stride, 2 * stride, ...`` while a window
still ends inside the raster, plus one last window at ``n - tile`` (shifted inward, so it
overlaps its neighbour by *at least* ``overlap``). That is
``ceil((n - tile) / stride) + 1`` windows, torchgeo's count. An axis shorter than a tile
gets a single window at offset 0 that extends past the raster; reads pad it.
"""

from __future__ import annotations

from rasterio.windows import Window

from geocrobim.errors import UsageError


def axis_offsets(size: int, tile: int, stride: int) -> list[int]:
    """Window offsets along one axis of ``size`` pixels (see the module docstring)."""
    if size <= tile:
        return [0]
    offsets = list(range(0, size - tile, stride))
    offsets.append(size - tile)
    return offsets


def validate_tiling(tile: int, overlap: int) -> None:
    """Raise :class:`UsageError` unless ``tile > 0`` and ``0 <= overlap < tile``."""
    for name, value in (("tile size", tile), ("overlap", overlap)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{name} must be a whole number of pixels, got {value!r}")
    if tile <= 0:
        raise UsageError(f"tile size must be a positive number of pixels, got {tile}")
    if not 0 <= overlap < tile:
        raise UsageError(
            f"overlap must be at least 0 and smaller than the tile size ({tile}), got {overlap}; "
            f"try --overlap {tile // 4}"
        )


def make_grid(width: int, height: int, tile: int, overlap: int) -> list[Window]:
    """Overlapping ``tile x tile`` windows covering a ``width x height`` raster, row-major.

    Args:
        width: Raster columns.
        height: Raster rows.
        tile: Window side in pixels.
        overlap: Pixels shared by neighbouring windows (the last row and column share more).

    Returns:
        Integer windows in row-major order (row offset, then column offset ascending).
        Every window is ``tile x tile``; windows lie inside the raster except along an axis
        shorter than ``tile``, where the single window extends past the end.

    Raises:
        UsageError: ``tile <= 0``, ``overlap < 0``, ``overlap >= tile`` or an empty raster.
    """
    validate_tiling(tile, overlap)
    if width < 1 or height < 1:
        raise UsageError(f"cannot tile an empty raster ({width}x{height})")
    stride = tile - overlap
    cols = axis_offsets(width, tile, stride)
    rows = axis_offsets(height, tile, stride)
    return [Window(col, row, tile, tile) for row in rows for col in cols]
