"""Streaming stitcher: blend overlapping window predictions into a tiled GeoTIFF in bounded memory.

Each window's probabilities are quantised to the output's 0-255 levels, multiplied by
integer blending weights and added into a row-band buffer together with the sum of
weights; a pixel's output is ``round(sum(w * q) / sum(w))``. Integer arithmetic makes this
exact: a constant model gives exactly the same value everywhere, whatever the weights and
however many windows overlap (float accumulation is off by an ulp, which flips the
rounding of values such as 0.3 * 255 = 76.5 from pixel to pixel). Quantising before
blending moves a result by at most half a level (1/510), far below any threshold's
sensitivity.

The buffer covers only the rows that windows still in flight can touch: as soon as no
pending window reaches a block row, that row is normalised and written to a tiled GeoTIFF
(uint8 0-255 probability, one band per expression) in the scene's CRS and grid, with
validity as an internal mask (none while every pixel so far is valid: readers then skip
the mask reads). Memory is about ``(tile + block) x width x (count + 1) x 4``
bytes, independent of the raster's height.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from geocrobim.errors import OutputError, one_line
from geocrobim.raster.scene import Scene

logger = logging.getLogger(__name__)

#: Tile side of the temporary GeoTIFF and the row granularity of flushes.
BLOCK_SIZE = 512


#: Largest integer weight: 2**16 keeps 255 * weight * (windows over a pixel) inside uint32.
MAX_WEIGHT = 1 << 16


def _window_key(window: Window) -> tuple[int, int, int, int]:
    return (int(window.col_off), int(window.row_off), int(window.width), int(window.height))


def _axis_coverage(intervals: set[tuple[int, int]]) -> int:
    """Most intervals ``[start, start + length)`` covering one position."""
    events = sorted([(a, 1) for a, _ in intervals] + [(a + n, -1) for a, n in intervals])
    depth = best = 0
    for _, step in events:
        depth += step
        best = max(best, depth)
    return best


def _max_coverage(windows: Sequence[Window]) -> int:
    """An upper bound on how many windows cover one pixel (rows x columns coverage)."""
    if not windows:
        return 1
    keys = [_window_key(w) for w in windows]
    rows = _axis_coverage({(k[1], k[3]) for k in keys})
    cols = _axis_coverage({(k[0], k[2]) for k in keys})
    return max(1, rows * cols)


def _integer_weights(weights: np.ndarray, coverage: int) -> np.ndarray:
    """Scale float weights to integers >= 1 such that sums of 255 * weight cannot overflow uint32."""
    top = max(1, min(MAX_WEIGHT, (2**32 - 1) // (255 * coverage)))
    scaled = np.rint(weights.astype(np.float64) / float(weights.max()) * top)
    return np.clip(scaled, 1, top).astype(np.uint32)


def _to_levels(probs: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] (or uint8 levels already) as uint8 levels 0-255, rounded half up.

    NaN becomes 0 (``fmax`` drops NaN); values outside [0, 1] are clipped.
    """
    if probs.dtype == np.uint8:
        return probs
    levels = np.multiply(probs, np.float32(255.0), dtype=np.float32)
    levels += np.float32(0.5)
    np.fmax(levels, np.float32(0.0), out=levels)
    np.fmin(levels, np.float32(255.5), out=levels)
    return levels.astype(np.uint8)  # truncation of x + 0.5: round half up


class Stitcher:
    """Blend window predictions for ``count`` expressions into a ``count``-band uint8 GeoTIFF.

    Windows are announced up front (the grid, or the subset a coarse pass chose) and must
    each be passed once to :meth:`add` or :meth:`skip`, in any order; memory stays bounded
    when they arrive roughly row by row, as the grid yields them. Pixels never covered by
    an :meth:`add` stay 0 and are masked invalid.

    Example:
        >>> windows = make_grid(scene.width, scene.height, 512, 128)
        >>> with Stitcher.for_scene(tmp, scene, windows, blend_weights(512, 128)) as st:
        ...     for window in windows:
        ...         st.add(window, probs, valid)   # probs (1, 512, 512) float32 in [0, 1]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        width: int,
        height: int,
        windows: Sequence[Window],
        weights: np.ndarray,
        count: int = 1,
        crs: CRS | None = None,
        transform: Affine | None = None,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        """Create the output file and the (empty) row-band buffer.

        Args:
            path: Temporary GeoTIFF to write (tiled, ZSTD, internal mask).
            width: Output columns (the scene's width).
            height: Output rows (the scene's height).
            windows: Every window that will be added or skipped, integer offsets/sizes.
            weights: ``(h, w)`` blending weights of the windows' size, strictly positive.
            count: Number of probability bands (expressions).
            crs: Output CRS (None: pixel space).
            transform: Output transform (None: identity).
            block_size: Tile side of the output and flush granularity in rows (multiple of 16).
        """
        if count < 1:
            raise ValueError(f"count must be at least 1 (one band per expression), got {count}")
        if block_size % 16:
            raise ValueError(f"block_size must be a multiple of 16, got {block_size}")
        if weights.ndim != 2 or not np.all(weights > 0):
            raise ValueError("weights must be a 2-D array of strictly positive values")
        self.path = Path(path)
        self.width = int(width)
        self.height = int(height)
        self.count = int(count)
        self.block_size = int(block_size)
        self._pending: set[tuple[int, int, int, int]] = set()
        self._pending_rows: Counter[int] = Counter()
        for window in windows:
            key = _window_key(window)
            if key in self._pending:
                raise ValueError(f"window {window} is listed twice")
            self._pending.add(key)
            self._pending_rows[key[1]] += 1
        self.weights = _integer_weights(weights, _max_coverage(windows))
        tallest = max((int(w.height) for w in windows), default=self.block_size)
        # Ring buffer: raster row r lives at buffer row r % capacity. The capacity is a
        # multiple of the block size, so every block row written is contiguous in it.
        self._capacity = self._round_up(min(self.height, tallest + self.block_size))
        self._acc = np.zeros((self.count, self._capacity, self.width), dtype=np.uint32)
        self._wsum = np.zeros((self._capacity, self.width), dtype=np.uint32)
        self._valid = np.zeros((self._capacity, self.width), dtype=bool)
        self._row0 = 0  # first raster row not yet written (a multiple of block_size)
        self._hi = 0  # one past the last raster row any add() touched
        self._masked = False  # whether the file has a mask band yet (see _write_mask)
        self.peak_buffer_bytes = self.buffer_bytes
        profile = {
            "driver": "GTiff",
            "width": self.width,
            "height": self.height,
            "count": self.count,
            "dtype": "uint8",
            "crs": crs,
            "tiled": True,
            "blockxsize": self.block_size,
            "blockysize": self.block_size,
            "compress": "zstd",
            "zstd_level": 1,  # a temporary file: speed over size
            "interleave": "pixel",
            # One band per expression, not colours: without this GDAL calls 3 bands RGB and 4 bands
            # RGBA, and an RGBA file without a mask band reads band 4 (the fourth expression's
            # probability) as every band's validity, hiding the others' objects wherever it is 0.
            "photometric": "MINISBLACK",
            "bigtiff": "if_safer",
        }
        if transform is not None and transform != Affine.identity():
            # An identity transform means pixel space: leave it out rather than have GDAL
            # write (and rasterio warn about) a meaningless geotransform.
            profile["transform"] = transform
        with warnings.catch_warnings():
            # Pixel-space output for a scene without georeferencing: the caller already warned.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            self._dst = rasterio.open(self.path, "w", **profile)
        self._closed = False

    @classmethod
    def for_scene(
        cls,
        path: str | os.PathLike[str],
        scene: Scene,
        windows: Sequence[Window],
        weights: np.ndarray,
        count: int = 1,
        block_size: int = BLOCK_SIZE,
    ) -> Stitcher:
        """A stitcher on the scene's grid (same width, height, CRS and transform)."""
        return cls(
            path,
            width=scene.width,
            height=scene.height,
            windows=windows,
            weights=weights,
            count=count,
            crs=scene.crs,
            transform=scene.transform,
            block_size=block_size,
        )

    @property
    def buffer_bytes(self) -> int:
        """Bytes held by the row-band buffer now."""
        return int(self._acc.nbytes + self._wsum.nbytes + self._valid.nbytes)

    @property
    def pending(self) -> int:
        """Windows announced but not yet added or skipped."""
        return len(self._pending)

    def add(self, window: Window, probs: np.ndarray | None, valid: np.ndarray | None = None) -> None:
        """Blend one window's probabilities in.

        Args:
            window: One of the announced windows (full-resolution pixel coordinates; the
                part outside the raster is ignored).
            probs: ``(count, h, w)`` (or ``(h, w)`` when count is 1) float probabilities
                in [0, 1], or uint8 levels 0-255, at the window's full-resolution size; or
                None when the window was not run through the model (its pixels are only
                marked valid).
            valid: ``(h, w)`` bool, True where the window holds data; None means all valid.
        """
        key = self._take(window)
        _, _, w, h = key
        if valid is not None and valid.shape != (h, w):
            raise ValueError(f"valid has shape {valid.shape}, expected {(h, w)} for {window}")
        if probs is not None:
            if probs.ndim == 2 and self.count == 1:
                probs = probs[None]
            if probs.shape != (self.count, h, w):
                raise ValueError(f"probs has shape {probs.shape}, expected {(self.count, h, w)} for {window}")
            if self.weights.shape != (h, w):
                raise ValueError(f"weights have shape {self.weights.shape} but {window} is {(h, w)}")
        self._blend(key, probs, valid)
        self._flush_finished()

    def add_many(self, windows: Sequence[Window], probs: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Blend a batch of windows in: exactly what :meth:`add` gives for each, in few numpy calls.

        A model batch holds consecutive windows of a grid row. Those that do not overlap
        each other and are equally spaced (every other window of a row, for an overlap
        under half a window) are blended through one view of the row band, the windows
        side by side along a new axis: per window, the cost of :meth:`add`'s dozen numpy
        calls and Python lines shrinks to a share of a few calls. Integer sums do not
        depend on the order of the additions, so the output is bit-identical.

        Args:
            windows: B announced windows, each of the weights' size.
            probs: ``(B, count, h, w)`` float probabilities in [0, 1] or uint8 levels 0-255.
            valid: ``(B, h, w)`` bool, True where a window holds data; None means all valid.
        """
        h, w = self.weights.shape
        if probs.shape != (len(windows), self.count, h, w):
            raise ValueError(f"probs has shape {probs.shape}, expected {(len(windows), self.count, h, w)}")
        if valid is not None and valid.shape != (len(windows), h, w):
            raise ValueError(f"valid has shape {valid.shape}, expected {(len(windows), h, w)}")
        keys = [self._take(window) for window in windows]
        if not keys:
            return
        levels = _to_levels(probs)  # once for the batch, not per window
        lanes, alone = self._lanes(keys)
        self._ensure_rows(min(max(key[1] + h for key in keys), self.height))
        for i in alone:
            self._blend(keys[i], levels[i], None if valid is None else valid[i])
        for members in lanes:
            self._blend_lane([keys[i] for i in members], levels[members], None if valid is None else valid[members])
        self._flush_finished()

    def skip(self, window: Window) -> None:
        """Mark an announced window as done without data (an all-invalid window costs nothing)."""
        self._take(window)
        self._flush_finished()

    def finish(self) -> Path:
        """Write the remaining rows and close the file.

        Returns:
            The written GeoTIFF's path.

        Raises:
            RuntimeError: Some announced windows were never added or skipped.
        """
        if self._pending:
            raise RuntimeError(f"{len(self._pending)} announced window(s) were never added or skipped")
        self._flush_to(self.height)
        self.close()
        return self.path

    def close(self) -> None:
        """Close the output file (after a failure the caller removes it)."""
        if not self._closed:
            self._dst.close()
            self._closed = True

    def __enter__(self) -> Stitcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()

    # -- internals -------------------------------------------------------------------------

    def _take(self, window: Window) -> tuple[int, int, int, int]:
        key = _window_key(window)
        if key not in self._pending:
            raise ValueError(f"window {window} was not announced or was already added")
        if max(key[1], 0) < self._row0:  # cannot happen for announced windows; a safety net
            raise RuntimeError(f"window {window} arrived after rows it covers were written")
        self._pending.discard(key)
        self._pending_rows[key[1]] -= 1
        if not self._pending_rows[key[1]]:
            del self._pending_rows[key[1]]
        return key

    def _round_up(self, rows: int) -> int:
        return max(1, -(-rows // self.block_size)) * self.block_size

    def _segments(self, r0: int, r1: int, row: int) -> list[tuple[slice, slice]]:
        """Raster rows ``[r0, r1)`` as (buffer rows, window rows) slices; two when they wrap."""
        start = r0 % self._capacity
        first = min(r1 - r0, self._capacity - start)
        parts = [(slice(start, start + first), slice(r0 - row, r0 - row + first))]
        if first < r1 - r0:
            parts.append((slice(0, r1 - r0 - first), slice(r0 - row + first, r1 - row)))
        return parts

    def _blend(self, key: tuple[int, int, int, int], probs: np.ndarray | None, valid: np.ndarray | None) -> None:
        """Add one checked window (``probs`` ``(count, h, w)`` or None) to the ring buffer."""
        col, row, w, h = key
        c0, c1 = max(col, 0), min(col + w, self.width)
        r0, r1 = max(row, 0), min(row + h, self.height)
        if c1 <= c0 or r1 <= r0:
            return
        self._ensure_rows(r1)
        cols = slice(c0, c1)
        t_cols = slice(c0 - col, c1 - col)
        for b_rows, t_rows in self._segments(r0, r1, row):
            if valid is None:
                self._valid[b_rows, cols] = True
            else:
                self._valid[b_rows, cols] |= valid[t_rows, t_cols]
            if probs is not None:
                self._accumulate(probs, t_rows, t_cols, b_rows, cols)
        self._hi = max(self._hi, r1)

    def _lanes(self, keys: Sequence[tuple[int, int, int, int]]) -> tuple[list[list[int]], list[int]]:
        """Split a batch into lanes (blended together) and windows blended alone.

        A lane is a list of batch positions of windows on the same rows, wholly inside
        the raster, whose columns step by one constant at least a window wide, and whose
        steps fit inside the raster's width (so that the row band's columns
        ``[first, first + n * step)`` reshape into ``(n, step)`` without a copy).
        Windows reaching past the raster go alone (their clipped part only).
        """
        h, w = self.weights.shape
        by_row: dict[int, list[list[int]]] = {}
        alone: list[int] = []
        for i, (col, row, _, _) in enumerate(keys):
            if col < 0 or row < 0 or col + w > self.width or row + h > self.height:
                alone.append(i)
                continue
            lanes = by_row.setdefault(row, [])
            for lane in lanes:
                first, last = keys[lane[0]][0], keys[lane[-1]][0]
                step = col - last
                if (
                    step >= w
                    and (len(lane) == 1 or step == last - keys[lane[-2]][0])
                    and first + (len(lane) + 1) * step <= self.width
                ):
                    lane.append(i)
                    break
            else:
                lanes.append([i])
        return [lane for lanes in by_row.values() for lane in lanes], alone

    def _blend_lane(self, keys: list[tuple[int, int, int, int]], levels: np.ndarray, valid: np.ndarray | None) -> None:
        """Add a lane's windows (``levels`` ``(n, count, h, w)`` uint8) with one view per array.

        The lane's columns ``[first, first + n * step)`` of the row band, reshaped to
        ``(n, step)`` and cut to the window width, are the n windows' pixels side by side;
        they do not overlap (step >= width), so one in-place ufunc call adds all of them.
        """
        h, w = self.weights.shape
        n = len(keys)
        col, row = keys[0][0], keys[0][1]
        step = keys[1][0] - col if n > 1 else w
        cols = slice(col, col + n * step)
        for b_rows, t_rows in self._segments(row, row + h, row):
            rows = b_rows.stop - b_rows.start
            # copy=False: a reshape that needed a copy would add into the copy and lose it.
            band_valid = np.reshape(self._valid[b_rows, cols], (rows, n, step), copy=False)[:, :, :w]
            if valid is None:
                band_valid[...] = True
            else:
                band_valid |= valid[:, t_rows].transpose(1, 0, 2)
            weights = self.weights[t_rows][:, None, :]  # (rows, 1, w): the same for every window
            wsum = np.reshape(self._wsum[b_rows, cols], (rows, n, step), copy=False)[:, :, :w]
            wsum += weights
            acc = np.reshape(self._acc[:, b_rows, cols], (self.count, rows, n, step), copy=False)[..., :w]
            # (n, count, rows, w) -> (count, rows, n, w), the row band's layout.
            acc += np.multiply(levels[:, :, t_rows].transpose(1, 2, 0, 3), weights, dtype=np.uint32)
        self._hi = max(self._hi, row + h)

    def _accumulate(self, probs: np.ndarray, t_rows: slice, t_cols: slice, b_rows: slice, b_cols: slice) -> None:
        weights = self.weights[t_rows, t_cols]
        np.add(self._wsum[b_rows, b_cols], weights, out=self._wsum[b_rows, b_cols])
        product = np.empty(weights.shape, dtype=np.uint32)
        for band in range(self.count):
            np.multiply(_to_levels(probs[band, t_rows, t_cols]), weights, out=product)
            np.add(self._acc[band, b_rows, b_cols], product, out=self._acc[band, b_rows, b_cols])

    def _ensure_rows(self, row_end: int) -> None:
        """Grow the ring (rare: windows arriving far out of order) to hold rows up to ``row_end``."""
        if row_end - self._row0 <= self._capacity:
            return
        capacity = self._round_up(row_end - self._row0)
        logger.debug("stitcher buffer grows from %d to %d rows", self._capacity, capacity)
        acc = np.zeros((self.count, capacity, self.width), dtype=np.uint32)
        wsum = np.zeros((capacity, self.width), dtype=np.uint32)
        valid = np.zeros((capacity, self.width), dtype=bool)
        for r in range(self._row0, min(self._hi, self._row0 + self._capacity)):
            old, new = r % self._capacity, r % capacity
            acc[:, new], wsum[new], valid[new] = self._acc[:, old], self._wsum[old], self._valid[old]
        self._acc, self._wsum, self._valid, self._capacity = acc, wsum, valid, capacity
        self.peak_buffer_bytes = max(self.peak_buffer_bytes, self.buffer_bytes)

    def _flush_finished(self) -> None:
        """Write every whole block row that no pending window touches."""
        if not self._pending_rows:
            self._flush_to(self.height)
            return
        first_pending = max(min(self._pending_rows), 0)
        self._flush_to((first_pending // self.block_size) * self.block_size)

    def _flush_to(self, row_end: int) -> None:
        while self._row0 < row_end:
            n = min(row_end - self._row0, self.block_size)
            self._write_rows(n)
            self._row0 += n

    def _write_mask(self, mask: np.ndarray, window: Window) -> None:
        """Write a block row's validity, creating the mask band at the first invalid pixel.

        A file without a mask band is all valid to GDAL, and its readers (polygonising,
        scoring, the probability COG) skip reading masks: over a scene without nodata that
        saves a fifth of the polygoniser's time. The first block row with an invalid pixel
        creates the band and fills the rows written before it as valid.
        """
        if not self._masked and mask.all():
            return
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):  # keep the mask inside the TIFF, never a .msk
            if not self._masked:
                self._masked = True
                for row in range(0, int(window.row_off), self.block_size):
                    rows = min(self.block_size, int(window.row_off) - row)
                    self._dst.write_mask(
                        np.full((rows, self.width), 255, dtype=np.uint8), window=Window(0, row, self.width, rows)
                    )
            self._dst.write_mask(mask, window=window)

    def _write_rows(self, n: int) -> None:
        """Normalise, quantise and write raster rows ``[_row0, _row0 + n)``; clear them in the ring."""
        start = self._row0 % self._capacity  # block-aligned, so the n <= block rows are contiguous
        rows = slice(start, start + n)
        window = Window(0, self._row0, self.width, n)
        touched = self._row0 < self._hi
        if touched:
            out = np.empty((self.count, n, self.width), dtype=np.uint8)
            valid = self._valid[rows]
            # 1 / sum(w) (uncovered pixels have sum 0 and acc 0: any finite inverse gives 0).
            inverse = np.maximum(self._wsum[rows], 1).astype(np.float32)
            np.reciprocal(inverse, out=inverse)
            value = np.empty((n, self.width), dtype=np.float32)
            for band in range(self.count):
                # float32 is exact enough: q * W / W for a constant level q lands within
                # an ulp of q, and +0.5 then truncation rounds to the nearest level.
                np.copyto(value, self._acc[band, rows], casting="unsafe")  # uint32 -> float32
                value *= inverse
                value += np.float32(0.5)
                np.copyto(out[band], value, casting="unsafe")
            if not valid.all():  # zero invalid pixels only where there are some (a cheap test)
                out[:, ~valid] = 0
            mask = valid.view(np.uint8) * np.uint8(255)
        else:
            out = np.zeros((self.count, n, self.width), dtype=np.uint8)
            mask = np.zeros((n, self.width), dtype=np.uint8)
        try:
            self._dst.write(out, window=window)
            self._write_mask(mask, window)
        except RasterioError as exc:
            raise OutputError(
                f"writing {self.path} failed ({one_line(exc, typed=False)}); check free disk space in its folder"
            ) from exc
        if touched:
            self._acc[:, rows] = 0
            self._wsum[rows] = 0
            self._valid[rows] = False
