"""Polygonise one block of a raster band: the unit of work of :func:`~geocrobim.vector.polygonize`.

This module is what pool workers import, so it stays light (numpy, rasterio, shapely; no
pandas, no pyproj). A block's polygons come back as ragged coordinate arrays (cheap to send
between processes, no shapely objects built in the worker) in two groups:

- *inner* polygons, which touch no internal block edge: already final, in map coordinates;
- *border* polygons, which may continue in the next block: in *pixel space* of the whole
  raster (integer pixel-corner coordinates), so that unioning them across blocks is exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio import features
from rasterio.enums import MaskFlags
from rasterio.windows import Window


@dataclass(frozen=True)
class Foreground:
    """How a pixel value becomes foreground.

    Attributes:
        threshold: ``value >= threshold`` is foreground; None means ``value > 0``.
    """

    threshold: float | None = None

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Foreground of ``values`` (h, w) as a bool array (h, w); NaN is never foreground."""
        if self.threshold is None:
            return values > 0
        return values >= self.threshold


@dataclass(frozen=True)
class BlockTask:
    """One block to polygonise.

    Attributes:
        path: raster path (opened once per worker process).
        band: 1-based band index.
        window: the block, in pixels of the whole raster.
        width: raster width, to know which block edges are internal.
        height: raster height.
        transform: the raster's affine transform (pixel corner -> map coordinates).
        foreground: the foreground rule.
        cache_bytes: GDAL block cache while reading. Every block is read once, so GDAL's
            default cache (5 % of RAM) would only pile up decoded tiles; one row of blocks
            is enough for striped files, whose strips span several blocks.
    """

    path: str
    band: int
    window: Window
    width: int
    height: int
    transform: Affine
    foreground: Foreground
    cache_bytes: int = 64 * 2**20


@dataclass(frozen=True)
class Rings:
    """Polygons as flat arrays: every ring's vertices, ring sizes, rings per polygon (shell first).

    Attributes:
        xy: (V, 2) float64 vertices of all rings, each ring closed.
        ring_sizes: (R,) vertices per ring.
        ring_counts: (P,) rings per polygon.
    """

    xy: np.ndarray
    ring_sizes: np.ndarray
    ring_counts: np.ndarray

    @classmethod
    def empty(cls) -> Rings:
        return cls(np.empty((0, 2)), np.empty(0, np.int64), np.empty(0, np.int64))

    @classmethod
    def from_geojson(cls, polygons: Iterable[list[list[tuple[float, float]]]]) -> Rings:
        """Flatten GeoJSON-style polygon coordinates (lists of rings of (x, y) tuples).

        ``shapely.geometry.shape`` per feature costs ~60 us; flattening every vertex into
        one array with ``np.fromiter`` costs a fraction of that.
        """
        polygons = list(polygons)
        if not polygons:
            return cls.empty()
        ring_counts = np.fromiter(map(len, polygons), np.int64, len(polygons))
        rings = list(itertools.chain.from_iterable(polygons))
        ring_sizes = np.fromiter(map(len, rings), np.int64, len(rings))
        flat = itertools.chain.from_iterable(itertools.chain.from_iterable(rings))
        xy = np.fromiter(flat, np.float64, 2 * int(ring_sizes.sum())).reshape(-1, 2)
        return cls(xy, ring_sizes, ring_counts)

    def __len__(self) -> int:
        return len(self.ring_counts)

    def bounds(self) -> np.ndarray:
        """(P, 4) xmin, ymin, xmax, ymax per polygon (from its shell, which contains its holes)."""
        ring_starts = np.concatenate([[0], np.cumsum(self.ring_sizes)[:-1]])
        shell_rings = np.concatenate([[0], np.cumsum(self.ring_counts)[:-1]])
        starts = ring_starts[shell_rings]
        x, y = self.xy[:, 0], self.xy[:, 1]
        # reduceat over [start_i, start_{i+1}) covers the shell and the holes: same extent
        return np.column_stack(
            [np.minimum.reduceat(x, starts), np.minimum.reduceat(y, starts),
             np.maximum.reduceat(x, starts), np.maximum.reduceat(y, starts)]
        )

    def select(self, keep: np.ndarray) -> Rings:
        """The polygons where ``keep`` (P,) is True."""
        keep_rings = np.repeat(keep, self.ring_counts)
        keep_xy = np.repeat(keep_rings, self.ring_sizes)
        return Rings(self.xy[keep_xy], self.ring_sizes[keep_rings], self.ring_counts[keep])

    def transformed(self, transform: Affine) -> Rings:
        """The polygons with ``transform`` applied to every vertex (vectorised)."""
        return Rings(apply_affine(self.xy, transform), self.ring_sizes, self.ring_counts)

    def geometries(self) -> np.ndarray:
        """(P,) shapely Polygons."""
        if not len(self):
            return np.empty(0, dtype=object)
        ring_offsets = np.concatenate([[0], np.cumsum(self.ring_sizes)])
        polygon_offsets = np.concatenate([[0], np.cumsum(self.ring_counts)])
        return shapely.from_ragged_array(shapely.GeometryType.POLYGON, self.xy, (ring_offsets, polygon_offsets))


@dataclass(frozen=True)
class BlockPieces:
    """The polygons of one block.

    Attributes:
        inner: polygons touching no internal block edge, in map coordinates (final).
        border: polygons touching an internal block edge, in pixel space (to be merged).
    """

    inner: Rings
    border: Rings


# One open dataset per worker process; blocks of the same raster reuse it.
_OPEN: dict[str, Any] = {}


def polygonize_task(task: BlockTask) -> BlockPieces:
    """Pool entry point: open (or reuse) the raster and polygonise ``task``'s block."""
    src = _OPEN.get(task.path)
    if src is None:
        for old in _OPEN.values():
            old.close()
        _OPEN.clear()
        src = _OPEN[task.path] = rasterio.open(task.path)
    with rasterio.Env(GDAL_CACHEMAX=task.cache_bytes):
        return polygonize_block(src, task)


def polygonize_block(src: Any, task: BlockTask) -> BlockPieces:
    """Polygons of the foreground components inside one block of an open dataset.

    Only the bounding box of the block's foreground goes through GDAL's polygoniser, whose
    cost grows with the pixels it scans, foreground or not: sparse masks cost almost nothing.

    Args:
        src: an open rasterio dataset.
        task: the block and the foreground rule.
    """
    win = task.window
    fg = task.foreground.apply(src.read(task.band, window=win))  # (h, w) bool
    if not _all_valid(src, task.band):
        fg &= src.read_masks(task.band, window=win) > 0  # nodata, alpha, internal masks
    rows = np.flatnonzero(fg.any(axis=1))
    if rows.size == 0:
        return BlockPieces(Rings.empty(), Rings.empty())
    cols = np.flatnonzero(fg.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = np.ascontiguousarray(fg[r0:r1, c0:c1]).view(np.uint8)  # no copy when fg fills the block
    origin = Affine.translation(win.col_off + c0, win.row_off + r0)  # pixel space of the raster
    rings = Rings.from_geojson(g["coordinates"] for g, _ in features.shapes(crop, mask=crop, transform=origin))
    touches = _touches_internal_edge(rings.bounds(), task)
    return BlockPieces(inner=rings.select(~touches).transformed(task.transform), border=rings.select(touches))


def apply_affine(xy: np.ndarray, transform: Affine) -> np.ndarray:
    """(V, 2) pixel-space (col, row) coordinates to (V, 2) map coordinates."""
    if transform.is_identity:
        return xy
    a, b, c, d, e, f = transform[:6]
    col, row = xy[:, 0], xy[:, 1]
    return np.column_stack([a * col + b * row + c, d * col + e * row + f])


def _touches_internal_edge(bounds: np.ndarray, task: BlockTask) -> np.ndarray:
    """(P,) bool: the polygon reaches a block edge that another block lies behind."""
    win = task.window
    xmin, ymin, xmax, ymax = bounds.T  # pixel space: y grows downwards
    left, top = win.col_off, win.row_off
    right, bottom = left + win.width, top + win.height
    touches = np.zeros(len(bounds), dtype=bool)
    if left > 0:
        touches |= xmin <= left
    if top > 0:
        touches |= ymin <= top
    if right < task.width:
        touches |= xmax >= right
    if bottom < task.height:
        touches |= ymax >= bottom
    return touches


def _all_valid(src: Any, band: int) -> bool:
    """True when the band has no nodata, alpha or internal mask (reading masks can be skipped)."""
    return list(src.mask_flag_enums[band - 1]) == [MaskFlags.all_valid]
