"""Rasters for the vector tests: real CRS, non-identity transforms, written to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from vector_helpers import UTM_CRS, UTM_TRANSFORM

WriteRaster = Callable[..., Path]


@pytest.fixture
def write_raster(tmp_path: Path) -> WriteRaster:
    """``write_raster(array, name="mask.tif", crs=UTM_CRS, transform=UTM_TRANSFORM, nodata=None,
    block=None)`` writes a single-band GeoTIFF (tiled with ``block`` px blocks if given)."""

    def write(
        array: np.ndarray,
        name: str = "mask.tif",
        *,
        crs: str | None = UTM_CRS,
        transform: Affine = UTM_TRANSFORM,
        nodata: float | None = None,
        block: int | None = None,
    ) -> Path:
        path = tmp_path / name
        profile = {
            "driver": "GTiff", "width": array.shape[1], "height": array.shape[0], "count": 1,
            "dtype": array.dtype.name, "crs": crs, "transform": transform, "nodata": nodata,
        }
        if block:
            profile.update(tiled=True, blockxsize=block, blockysize=block)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(array, 1)
        return path

    return write
