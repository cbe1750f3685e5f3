"""Open and validate an input raster once; describe it as a small immutable :class:`Scene`.

Everything later in the pipeline (stretch, window reads, stitching, COG writing) takes the
``Scene`` plus an open rasterio dataset, so validation happens in one place and the
expensive checks (truncation, dtype, bands) run before any model work starts.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from geocrobim.errors import InputNotFoundError, RasterError, UsageError, one_line

logger = logging.getLogger(__name__)

#: Real-valued dtypes a scene may have. Complex data has no meaning as imagery for the model.
SUPPORTED_DTYPES: tuple[str, ...] = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "int64",
    "float32",
    "float64",
)

# Mean radius-based metres per degree of latitude; good to ~0.5 % for a GSD estimate.
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Scene:
    """What the pipeline needs to know about an input raster.

    Attributes:
        path: The raster file.
        width: Columns of the full-resolution raster.
        height: Rows of the full-resolution raster.
        count: Number of bands in the file.
        dtype: Numpy dtype name of the selected bands (e.g. ``"uint16"``).
        crs: The raster's CRS, or None for a raster without georeferencing (outputs then
            stay in pixel space; the caller warns).
        transform: Pixel-to-CRS affine transform (identity when not georeferenced).
        res: Pixel size ``(x, y)`` in CRS units, both positive.
        nodata: The declared nodata value of the first selected band, or None.
        bands: The three 1-based band indexes fed to the model as R, G, B (one band is
            repeated three times for single-band imagery).
        alpha: 1-based index of the alpha band, or None.
        block_shape: ``(rows, cols)`` of the file's blocks (tiles or strips) for the first
            selected band; windowed reads aligned to these are cheapest.
        has_mask: True when reads must build a validity mask: a selected band has nodata,
            an alpha band or an internal/sidecar mask, or the data is floating point (NaN
            is invalid). False lets reads skip all mask work.
        overviews: Decimation factors of the file's overviews (e.g. ``(2, 4, 8)``).
        paletted: The selected bands whose values index a colour table (colour
            interpretation ``palette``), not colours.
        palette: When the selection is one uint8 paletted band (repeated), its colour
            table as 256 ``(r, g, b, alpha)`` entries: reads expand indices to these
            colours (alpha 0 is invalid). None otherwise; a paletted selection without
            one (three different bands, 16-bit indices) cannot be read as imagery.
    """

    path: Path
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS | None
    transform: Affine
    res: tuple[float, float]
    nodata: float | None
    bands: tuple[int, int, int]
    alpha: int | None
    block_shape: tuple[int, int]
    has_mask: bool = False
    overviews: tuple[int, ...] = ()
    paletted: tuple[int, ...] = ()
    palette: tuple[tuple[int, int, int, int], ...] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the raster."""
        return (self.height, self.width)

    def downsampled_shape(self, max_size: int) -> tuple[int, int]:
        """``(h, w)`` of the scene scaled down (never up) so its longest side is at most ``max_size``."""
        scale = min(1.0, max_size / max(self.width, self.height))
        return (max(1, round(self.height * scale)), max(1, round(self.width * scale)))

    @property
    def is_float(self) -> bool:
        """True for floating-point data (NaN counts as invalid)."""
        return self.dtype.startswith("float")

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units (rasterio's order)."""
        left, bottom, right, top = rasterio.transform.array_bounds(self.height, self.width, self.transform)
        return (float(left), float(bottom), float(right), float(top))

    @property
    def gsd_m(self) -> float | None:
        """Ground sample distance in metres (mean of x and y), or None without a CRS.

        Projected CRSs use their linear unit (feet become metres); geographic CRSs convert
        degrees at the scene's centre latitude, which is what a model trained at a metric
        GSD needs for choosing a reading resolution.
        """
        if self.crs is None:
            return None
        res_x, res_y = self.res
        if self.crs.is_geographic:
            left, bottom, right, top = self.bounds
            lat = math.radians((bottom + top) / 2.0)
            return 0.5 * (res_x * _METRES_PER_DEGREE * math.cos(lat) + res_y * _METRES_PER_DEGREE)
        try:
            factor = float(self.crs.linear_units_factor[1])
        except (RasterioError, ValueError, TypeError):  # e.g. an engineering CRS without units
            factor = 1.0
        return 0.5 * (res_x + res_y) * factor

    def open(self) -> DatasetReader:
        """Open the scene's file with rasterio (one handle per thread: handles are not thread-safe)."""
        return _open_quietly(self.path)


def _parse_bands(bands: Sequence[int], count: int) -> tuple[int, int, int]:
    """Validate user band indexes; one band is repeated three times."""
    values = None if isinstance(bands, (str, bytes)) else list(bands)
    if values is None or len(values) not in (1, 3):
        raise UsageError(f"--bands needs 1 or 3 band indexes (e.g. 4,3,2), got {bands!r}")
    chosen: list[int] = []
    for band in values:
        if isinstance(band, bool) or not isinstance(band, numbers.Integral):
            raise UsageError(f"band index {band!r} is not an integer; use 1-based band numbers such as 1,2,3")
        index = int(band)
        if not 1 <= index <= count:
            raise UsageError(f"band {index} is out of range: the raster has {count} band(s), use 1..{count}")
        chosen.append(index)
    if len(chosen) == 1:
        chosen *= 3
    return (chosen[0], chosen[1], chosen[2])


def _default_bands(colorinterp: Sequence[ColorInterp], alpha: int | None) -> tuple[int, int, int]:
    """RGB from the colour interpretation, else the first three non-alpha bands, else one band x3."""
    wanted = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if all(ci in colorinterp for ci in wanted):
        r, g, b = (list(colorinterp).index(ci) + 1 for ci in wanted)
        return (r, g, b)
    data_bands = [i + 1 for i in range(len(colorinterp)) if i + 1 != alpha]
    if not data_bands:  # a lone alpha band: still imagery of a sort
        data_bands = [1]
    if len(data_bands) >= 3:
        return (data_bands[0], data_bands[1], data_bands[2])
    return (data_bands[0], data_bands[0], data_bands[0])


def _find_alpha(src: DatasetReader) -> int | None:
    """1-based alpha band from the colour interpretation or GDAL's mask flags."""
    for i, ci in enumerate(src.colorinterp):
        if ci == ColorInterp.alpha:
            return i + 1
    # A 4-band RGBA written with PHOTOMETRIC=RGB + EXTRASAMPLES=alpha shows up as mask flags.
    if src.count >= 2 and MaskFlags.alpha in src.mask_flag_enums[0]:
        return src.count
    return None


def _check_readable(src: DatasetReader, bands: Sequence[int]) -> None:
    """Read the first and last block of each band: a truncated file fails here, not mid-run."""
    block_rows, block_cols = src.block_shapes[0]
    last = Window(
        col_off=((src.width - 1) // block_cols) * block_cols,
        row_off=((src.height - 1) // block_rows) * block_rows,
        width=min(block_cols, src.width - ((src.width - 1) // block_cols) * block_cols),
        height=min(block_rows, src.height - ((src.height - 1) // block_rows) * block_rows),
    )
    first = Window(0, 0, min(block_cols, src.width), min(block_rows, src.height))
    for window in (first, last):
        # All bands at once: pixel-interleaved files store a block of every band together,
        # band-interleaved files put the last band's last block at the end of the file.
        src.read(sorted(set(bands) | {src.count}), window=window)


def open_scene(path: str | os.PathLike[str], bands: Sequence[int] | None = None) -> Scene:
    """Open, validate and describe a raster.

    Args:
        path: Raster file readable by GDAL (GeoTIFF, COG, VRT, ...).
        bands: 1-based band indexes to use as R, G, B (three), or one band repeated three
            times. None chooses R, G, B from the colour interpretation, else the first
            three non-alpha bands, else the single band repeated.

    Returns:
        The validated :class:`Scene`.

    Raises:
        InputNotFoundError: The path does not exist.
        RasterError: Not a raster, a truncated or corrupt file, an empty raster, or an
            unsupported (complex) dtype.
        UsageError: A band index is out of range or the band list has the wrong length.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"input raster not found: {path}; check the path")
    if path.is_dir():
        raise RasterError(f"input {path} is a folder, not a raster file; pass a GeoTIFF")
    try:
        src = _open_quietly(path)
    except RasterioError as exc:
        raise RasterError(
            f"{path} is not a raster GDAL can read ({one_line(exc, typed=False)}); pass a GeoTIFF or another GDAL raster"
        ) from exc
    with src:
        if src.count < 1 or src.width < 1 or src.height < 1:
            raise RasterError(f"{path} has no pixels ({src.width}x{src.height}, {src.count} bands)")
        alpha = _find_alpha(src)
        chosen = _parse_bands(bands, src.count) if bands is not None else _default_bands(src.colorinterp, alpha)
        dtypes = {src.dtypes[b - 1] for b in chosen}
        bad = sorted(d for d in dtypes if d not in SUPPORTED_DTYPES)
        if bad:
            raise RasterError(
                f"{path} has unsupported data type {bad[0]}; supported: {', '.join(SUPPORTED_DTYPES)} "
                "(convert it, e.g. with gdal_translate -ot Float32)"
            )
        # Mixed dtypes across the chosen bands (rare): reads promote to a common type.
        dtype = _common_dtype(dtypes)
        try:
            _check_readable(src, chosen)
        except RasterioError as exc:
            raise RasterError(
                f"{path} is truncated or corrupt: reading its pixels failed ({one_line(exc, typed=False)}); "
                "re-download or re-export the file"
            ) from exc
        paletted = tuple(sorted({b for b in chosen if src.colorinterp[b - 1] == ColorInterp.palette}))
        palette = _palette(src, chosen) if paletted else None
        has_mask = (
            dtype.startswith("float")
            or any(src.mask_flag_enums[b - 1] != [MaskFlags.all_valid] for b in chosen)
            or (palette is not None and any(entry[3] == 0 for entry in palette))  # transparent colours
        )
        crs = src.crs if src.crs else None
        res_x, res_y = src.res
        scene = Scene(
            path=path,
            width=src.width,
            height=src.height,
            count=src.count,
            dtype=dtype,
            crs=crs,
            transform=src.transform,
            res=(abs(float(res_x)), abs(float(res_y))),
            nodata=src.nodatavals[chosen[0] - 1],
            bands=chosen,
            alpha=alpha,
            block_shape=tuple(src.block_shapes[chosen[0] - 1]),
            has_mask=has_mask,
            overviews=tuple(src.overviews(chosen[0])),
            paletted=paletted,
            palette=palette,
        )
    logger.debug("opened %s", scene)
    return scene


def _palette(src: DatasetReader, chosen: Sequence[int]) -> tuple[tuple[int, int, int, int], ...] | None:
    """The colour table of a selection that is one uint8 paletted band, else None."""
    band = chosen[0]
    if len(set(chosen)) != 1 or src.dtypes[band - 1] != "uint8":
        return None
    try:
        colours = src.colormap(band)
    except ValueError:  # palette interpretation without a table: nothing to expand
        return None
    return tuple(tuple(int(v) for v in colours.get(i, (0, 0, 0, 0))) for i in range(256))  # type: ignore[misc]  # 256 entries of 4 ints; mypy cannot count a generator


def _open_quietly(path: Path) -> DatasetReader:
    """rasterio.open without NotGeoreferencedWarning: ``Scene.crs is None`` says it, and callers warn once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path)


def _common_dtype(dtypes: set[str]) -> str:
    """The numpy result type of the band dtypes (what reads promote mixed bands to)."""
    return str(np.result_type(*sorted(dtypes)))

