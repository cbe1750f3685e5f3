"""Windowed reads: one window of the scene as model-ready uint8 RGB plus its valid-data mask.

:class:`Stretch` (data values to uint8) lives here, with the reads that apply it;
:mod:`geocrobim.raster.stretch` computes one per scene from a sample read through this module.

Windows may reach past the raster (the last row/column of a small raster); only the part
inside is read and the rest is zero padding marked invalid. rasterio's own ``boundless``
reads go through a warped VRT, which is slower and resamples; cropping is exact.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from geocrobim.errors import RasterError, one_line
from geocrobim.raster.scene import Scene


@dataclass(frozen=True, eq=False)
class Stretch:
    """A per-channel linear map ``[low, high] -> [0, 255]`` with clipping.

    Attributes:
        low: ``(3,)`` float64 values mapped to 0, one per output channel (R, G, B).
        high: ``(3,)`` float64 values mapped to 255.
        identity: True when the map is the identity on uint8 data (apply is a cast).
        valid_fraction: Fraction of sampled pixels that were valid (0 for an all-nodata
            sample; informative only, a sample can miss small valid areas).
    """

    low: np.ndarray
    high: np.ndarray
    identity: bool = False
    valid_fraction: float = 1.0
    # Lookup tables for 8/16-bit input, built on first use (one per input dtype).
    _luts: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_range(cls, low: float, high: float, valid_fraction: float = 1.0) -> Stretch:
        """The same ``[low, high]`` for all three channels."""
        lo = np.full(3, float(low))
        hi = np.full(3, float(high))
        return cls(lo, hi, identity=bool(low == 0 and high == 255), valid_fraction=valid_fraction)

    def apply(self, arr: np.ndarray) -> np.ndarray:
        """Map data to uint8.

        Args:
            arr: ``(3, h, w)`` data of any real dtype (channels as in ``Scene.bands``), or
                ``(h, w)`` for all channels alike. NaN and infinities become 0.

        Returns:
            uint8 array of the same shape.
        """
        if self.identity and arr.dtype == np.uint8:
            return arr
        if arr.dtype.kind in "ui" and arr.dtype.itemsize <= 2:
            return self._apply_lut(arr)
        # float64 for 32/64-bit data: float32 would lose the low bits of large integers.
        work: type[np.floating[Any]] = np.float32 if arr.dtype.kind == "f" and arr.dtype.itemsize <= 4 else np.float64
        low, scale = self._low_scale(arr.ndim, work)
        out: np.ndarray = arr.astype(work, copy=True)
        np.subtract(out, low, out=out)
        np.multiply(out, scale, out=out)
        np.clip(out, 0.0, 255.0, out=out)
        np.nan_to_num(out, copy=False, nan=0.0)
        return np.rint(out).astype(np.uint8)

    def _low_scale(self, ndim: int, work: type[np.floating[Any]]) -> tuple[np.ndarray, np.ndarray]:
        span = np.maximum(self.high - self.low, np.finfo(np.float64).tiny)
        low: np.ndarray = self.low.astype(work)
        scale = (255.0 / span).astype(work)
        if ndim == 3:
            return low[:, None, None], scale[:, None, None]
        return low[:1], scale[:1]  # (h, w): the first channel's map

    def _apply_lut(self, arr: np.ndarray) -> np.ndarray:
        """8/16-bit integers through a lookup table: one gather per pixel, no float math."""
        key = arr.dtype.str
        lut = self._luts.get(key)
        if lut is None:
            info = np.iinfo(arr.dtype)
            values = np.arange(info.min, info.max + 1, dtype=np.float64)
            span = np.maximum(self.high - self.low, np.finfo(np.float64).tiny)
            lut = np.rint(np.clip((values[None, :] - self.low[:, None]) * (255.0 / span)[:, None], 0, 255))
            lut = lut.astype(np.uint8)  # (3, 2**bits)
            self._luts[key] = lut
        offset = -int(np.iinfo(arr.dtype).min)
        index = arr.astype(np.int32) + offset if offset else arr
        if arr.ndim == 2:
            return lut[0][index]
        return np.stack([lut[c][index[c]] for c in range(arr.shape[0])])


def unique_bands(scene: Scene) -> tuple[list[int], list[int]]:
    """Distinct band indexes to read, and where each of the three channels sits among them.

    A single band repeated three times is read once.
    """
    unique = sorted(set(scene.bands))
    return unique, [unique.index(b) for b in scene.bands]


@functools.lru_cache(maxsize=8)
def _palette_lut(palette: tuple[tuple[int, int, int, int], ...]) -> np.ndarray:
    """``(4, 256)`` uint8 R, G, B, alpha lookup rows of a colour table."""
    return np.ascontiguousarray(np.array(palette, dtype=np.uint8).T)


def expand_palette(
    palette: tuple[tuple[int, int, int, int], ...], indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Colour-table indices as colours: ``(h, w)`` uint8 -> ``(rgb (3, h, w) uint8, opaque (h, w) bool)``.

    Entries with alpha 0 are transparent, i.e. not data.
    """
    lut = _palette_lut(palette)
    return lut[:3, indices], lut[3, indices] > 0


def _resampling_for(scene: Scene, resampling: Resampling) -> Resampling:
    """``resampling``, or nearest for colour-table indices: averaged indices would mix unrelated
    colours (GDAL picks nearest for a band with a colour table itself; say so rather than rely on it)."""
    return Resampling.nearest if scene.palette is not None else resampling


def _channels(scene: Scene, data: np.ndarray, channel: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
    """The (3, h, w) R, G, B of ``data`` read from ``unique_bands``, and where a colour table
    makes pixels transparent (None: it does not apply)."""
    if scene.palette is not None:
        return expand_palette(scene.palette, data[0])
    return (data if channel == list(range(len(data))) and len(data) == 3 else data[channel]), None


def valid_from_masks(
    src: DatasetReader,
    scene: Scene,
    indexes: Sequence[int],
    data: np.ndarray | None,
    window: Window | None = None,
    out_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Validity of data just read: GDAL masks (nodata, alpha, internal or sidecar mask) and NaN.

    A pixel is valid when *any* selected band is valid there (GDAL's dataset-mask rule:
    with a per-band nodata of 0, a pure red pixel is still a pixel).

    Args:
        src: The open dataset.
        scene: Its scene.
        indexes: The band indexes ``data`` was read from.
        data: ``(len(indexes), h, w)`` the data read with the same window and out_shape,
            for the NaN check of float data; None skips that check.
        window: The window read (None: the whole raster). Must lie inside the raster.
        out_shape: ``(h, w)`` the data was resampled to; None: the window's own size.

    Returns:
        ``(h, w)`` bool, True where the pixel holds data.
    """
    if not scene.has_mask:
        if out_shape is None:
            out_shape = (src.height, src.width) if window is None else (int(window.height), int(window.width))
        return np.ones(out_shape, dtype=bool)
    masks = src.read_masks(
        list(indexes),
        window=window,
        out_shape=(len(indexes), *out_shape) if out_shape is not None else None,
        resampling=Resampling.nearest,
    )
    per_band = masks > 0
    if data is not None and data.dtype.kind == "f":
        per_band &= np.isfinite(data)
    return per_band.any(axis=0)


@dataclass(frozen=True)
class _Placement:
    """Where the in-raster part of a (possibly overhanging) window lands in the output."""

    out_shape: tuple[int, int]  # (h, w) of the whole output
    inner: Window | None  # the part of the window inside the raster; None: nothing inside
    rows: slice  # output rows the inner part fills
    cols: slice  # output columns the inner part fills

    @property
    def resampled(self) -> bool:
        return self.inner is not None and self.inner_shape != (self.inner.height, self.inner.width)

    @property
    def inner_shape(self) -> tuple[int, int]:
        return (self.rows.stop - self.rows.start, self.cols.stop - self.cols.start)


def _place(scene: Scene, window: Window, out_shape: tuple[int, int] | None) -> _Placement:
    out_h, out_w = out_shape if out_shape is not None else (int(round(window.height)), int(round(window.width)))
    col0, row0 = max(window.col_off, 0), max(window.row_off, 0)
    col1 = min(window.col_off + window.width, scene.width)
    row1 = min(window.row_off + window.height, scene.height)
    empty = _Placement((out_h, out_w), None, slice(0, 0), slice(0, 0))
    if col1 <= col0 or row1 <= row0:
        return empty
    # A proportional sub-rectangle of the output when resampling.
    sx, sy = out_w / window.width, out_h / window.height
    oc0, oc1 = round((col0 - window.col_off) * sx), round((col1 - window.col_off) * sx)
    or0, or1 = round((row0 - window.row_off) * sy), round((row1 - window.row_off) * sy)
    if oc1 <= oc0 or or1 <= or0:
        return empty
    inner = Window(col0, row0, col1 - col0, row1 - row0)
    return _Placement((out_h, out_w), inner, slice(or0, or1), slice(oc0, oc1))


def read_error(scene: Scene, window: Window, exc: Exception) -> RasterError:
    """The error for a corrupt block met mid-run (open_scene only checks the first and last blocks)."""
    row0, col0 = int(window.row_off), int(window.col_off)
    where = f"rows {row0}-{int(window.row_off + window.height)}, cols {col0}-{int(window.col_off + window.width)}"
    return RasterError(
        f"{scene.path} is corrupt: reading {where} failed ({one_line(exc, typed=False)}); re-download or re-export the file"
    )


def read_valid(
    src: DatasetReader,
    scene: Scene,
    window: Window,
    out_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """The valid-data mask of a window alone, without stretching (masks only, unless float).

    Args:
        src: The scene's open dataset.
        scene: The scene.
        window: Window in full-resolution pixels; it may extend past the raster.
        out_shape: ``(h, w)`` to read the mask at; None for the window's size.

    Returns:
        ``(h, w)`` bool, False outside the raster and on nodata, alpha 0, masked or NaN pixels.
    """
    place = _place(scene, window, out_shape)
    valid = np.zeros(place.out_shape, dtype=bool)
    if place.inner is None:
        return valid
    if not scene.has_mask:
        valid[place.rows, place.cols] = True
        return valid
    unique, _ = unique_bands(scene)
    shape = place.inner_shape if place.resampled else None
    data = None
    try:
        # NaN lives in the data, not in GDAL's masks; so do a colour table's transparent entries.
        if scene.is_float or scene.palette is not None:
            data = src.read(unique, window=place.inner, out_shape=(len(unique), *shape) if shape else None)
        inside = valid_from_masks(src, scene, unique, data, window=place.inner, out_shape=place.inner_shape)
    except RasterioError as exc:
        raise read_error(scene, place.inner, exc) from exc
    if scene.palette is not None and data is not None:
        inside &= expand_palette(scene.palette, data[0])[1]
    valid[place.rows, place.cols] = inside
    return valid


def read_window(
    src: DatasetReader,
    scene: Scene,
    window: Window,
    stretch: Stretch,
    out_shape: tuple[int, int] | None = None,
    resampling: Resampling = Resampling.bilinear,
) -> tuple[np.ndarray, np.ndarray]:
    """Read one window as stretched uint8 RGB and its validity.

    Args:
        src: The scene's open dataset (not shared between threads).
        scene: The scene from :func:`open_scene`.
        window: Window in full-resolution pixel coordinates; it may extend past the raster.
        stretch: The scene's stretch from :func:`compute_stretch`.
        out_shape: ``(h, w)`` to resample the window to (reading at another GSD); None
            reads at full resolution, ``(window.height, window.width)``.
        resampling: Resampling for the data when ``out_shape`` differs from the window
            size; masks always use nearest.

    Returns:
        ``(rgb (3, h, w) uint8, valid (h, w) bool)``. Padding and invalid pixels are 0 in
        ``rgb`` and False in ``valid``.
    """
    place = _place(scene, window, out_shape)
    if place.inner is None:
        return np.zeros((3, *place.out_shape), dtype=np.uint8), np.zeros(place.out_shape, dtype=bool)
    inner = place.inner
    shape = place.inner_shape
    unique, channel = unique_bands(scene)
    resample = place.resampled
    try:
        data = src.read(
            unique,
            window=inner,
            out_shape=(len(unique), *shape) if resample else None,
            resampling=_resampling_for(scene, resampling),
            out_dtype=scene.dtype,
        )
        inside_valid = valid_from_masks(src, scene, unique, data, window=inner, out_shape=shape if resample else None)
    except RasterioError as exc:
        raise read_error(scene, inner, exc) from exc
    channels, opaque = _channels(scene, data, channel)
    if opaque is not None:
        inside_valid &= opaque
    stretched = stretch.apply(channels)
    if scene.has_mask:
        stretched = np.where(inside_valid, stretched, 0).astype(np.uint8, copy=False)
    if place.inner_shape == place.out_shape:
        # No padding: the arrays just made are the result (a second full copy per read
        # is a measurable share of reading the fine pass's chunks).
        return np.ascontiguousarray(stretched, dtype=np.uint8), inside_valid
    rgb = np.zeros((3, *place.out_shape), dtype=np.uint8)
    valid = np.zeros(place.out_shape, dtype=bool)
    rgb[:, place.rows, place.cols] = stretched
    valid[place.rows, place.cols] = inside_valid
    return rgb, valid


def read_decimated(
    src: DatasetReader,
    scene: Scene,
    out_shape: tuple[int, int],
    resampling: Resampling = Resampling.nearest,
) -> tuple[np.ndarray, np.ndarray]:
    """The whole scene at reduced size (raw values), read in strips of about one block row.

    For the statistics sample, the quicklook and a coarse pass. GDAL serves the reads from
    overviews when the file has them. Without overviews every block is decoded once; strips
    keep that within a small GDAL block cache, where one whole-scene decimated read
    thrashes the cache (9 s instead of 3.4 s for 16384 x 16384 with a 64 MB cache).

    Args:
        src: The scene's open dataset.
        scene: The scene.
        out_shape: ``(h, w)`` of the result.
        resampling: Resampling for the data (nearest is cheapest; masks are always nearest).

    Returns:
        ``(data (3, h, w) in the scene's dtype, channels as Scene.bands, valid (h, w) bool)``;
        a paletted scene's colours (uint8 RGB) instead of its indices.
    """
    out_h, out_w = out_shape
    unique, channel = unique_bands(scene)
    resampling = _resampling_for(scene, resampling)
    data = np.empty((len(unique), out_h, out_w), dtype=scene.dtype)
    valid = np.empty((out_h, out_w), dtype=bool)
    # Output rows per strip: a source strip of about one block row (at least one output row).
    step = max(1, int(scene.block_shape[0] * out_h / scene.height))
    for o0 in range(0, out_h, step):
        o1 = min(out_h, o0 + step)
        # Float windows map output rows exactly, so strips join seamlessly (GDAL honours them).
        top, bottom = o0 * scene.height / out_h, o1 * scene.height / out_h
        strip = Window(0, top, scene.width, bottom - top)
        shape = (o1 - o0, out_w)
        try:
            part = src.read(
                unique, window=strip, out_shape=(len(unique), *shape), resampling=resampling, out_dtype=scene.dtype
            )
            valid[o0:o1] = valid_from_masks(src, scene, unique, part, window=strip, out_shape=shape)
        except RasterioError as exc:
            raise read_error(scene, strip, exc) from exc
        data[:, o0:o1] = part
    channels, opaque = _channels(scene, data, channel)
    return channels, valid if opaque is None else valid & opaque
