"""Cloud-Optimized GeoTIFF output through GDAL's COG driver (GDAL >= 3.1, via rasterio).

The pipeline writes a tiled temporary GeoTIFF in block-aligned rows, then copies it once
into a COG: tiles, internal overviews and the mask in COG order. We use the COG driver
rather than rio-cogeo: it was about 2.5x faster when we compared the two.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

import rasterio
import rasterio.shutil

from geocrobim.errors import UsageError

#: Overview resampling: nearest for masks (values stay 0/1), average for probabilities.
OverviewResampling = Literal["nearest", "average", "mode", "bilinear", "cubic", "lanczos"]
#: Compression of the COG; DEFLATE opens everywhere (older QGIS builds lack ZSTD).
Compression = Literal["deflate", "zstd", "lzw", "none"]


def write_cog(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    nodata: float | None = None,
    resampling: OverviewResampling = "nearest",
    *,
    compress: Compression = "deflate",
    blocksize: int = 512,
) -> Path:
    """Copy a raster into a Cloud-Optimized GeoTIFF with overviews.

    Args:
        src_path: Source raster (typically the stitcher's temporary GeoTIFF). Its CRS,
            transform, size, bands and internal mask carry over.
        dst_path: Output path; written directly, so wrap it in :func:`atomic_path`.
        nodata: Nodata value to declare on the output. It is set on the *source* file
            first (a temporary file in the pipeline), because the COG driver copies it.
        resampling: Overview resampling: ``"nearest"`` for masks, ``"average"`` for
            probabilities.
        compress: Tile compression.
        blocksize: Tile side in pixels (overviews are made down to one tile).

    Returns:
        ``dst_path`` as a Path.

    Raises:
        UsageError: Unknown ``resampling`` or ``compress``.
    """
    if resampling not in get_args(OverviewResampling):
        raise UsageError(f"overview resampling {resampling!r} is not one of {', '.join(get_args(OverviewResampling))}")
    if compress not in get_args(Compression):
        raise UsageError(f"compression {compress!r} is not one of {', '.join(get_args(Compression))}")
    if nodata is not None:
        with rasterio.open(src_path, "r+") as src:
            if src.nodata != nodata:
                src.nodata = nodata
    options = {
        "COMPRESS": compress.upper(),
        "BLOCKSIZE": str(blocksize),
        "OVERVIEW_RESAMPLING": resampling.upper(),
        "OVERVIEWS": "IGNORE_EXISTING",  # the temporary file has none; never trust stale ones
        "BIGTIFF": "IF_SAFER",
        "NUM_THREADS": "ALL_CPUS",
    }
    if compress in ("deflate", "zstd"):
        options["LEVEL"] = "6" if compress == "deflate" else "9"
    rasterio.shutil.copy(str(src_path), str(dst_path), driver="COG", **options)
    return Path(dst_path)
