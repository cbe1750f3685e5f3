"""Suite-wide fixtures.

The torchvision compat shim must run before any test module imports timm, Lightning,
torchmetrics or torchgeo (see geocrobim/compat.py); importing it here does that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()


# -- Raster fixtures (owner: raster helper) ------------------------------------------------
# A factory for GeoTIFFs with a real projected CRS and a non-identity transform, usable by
# every test package (raster, inference, vector, cli).

#: UTM 33N, 0.5 m pixels, origin away from 0 so georeferencing mistakes show.
TEST_CRS = "EPSG:32633"
TEST_TRANSFORM = (0.5, 0.0, 480_000.0, 0.0, -0.5, 5_120_000.0)


def write_geotiff(
    path: Path,
    data: np.ndarray,
    *,
    crs: str | None = TEST_CRS,
    transform: Any = None,
    nodata: float | None = None,
    mask: np.ndarray | None = None,
    colorinterp: list[str] | None = None,
    block: int | None = 256,
    overviews: list[int] | None = None,
    **creation: Any,
) -> Path:
    """Write ``data`` ``(bands, rows, cols)`` (or ``(rows, cols)``) as a GeoTIFF and return its path.

    ``mask`` (rows, cols) bool is stored as an internal (per-dataset) mask; ``colorinterp``
    takes names such as ``["red", "green", "blue", "alpha"]``; ``block=None`` writes strips.
    """
    import rasterio
    from affine import Affine
    from rasterio.enums import ColorInterp, Resampling

    if data.ndim == 2:
        data = data[None]
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": Affine(*(transform or TEST_TRANSFORM)),
        "nodata": nodata,
    }
    if block:
        profile.update(tiled=True, blockxsize=block, blockysize=block)
    profile.update(creation)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        if colorinterp:  # before the pixels: GTiff fixes EXTRASAMPLES once data is written
            dst.colorinterp = [ColorInterp[name] for name in colorinterp]
        dst.write(data)
        if mask is not None:
            dst.write_mask(np.where(mask, 255, 0).astype("uint8"))
        if overviews:
            dst.build_overviews(overviews, Resampling.average)
    return path


@pytest.fixture
def geotiff(tmp_path: Path) -> Callable[..., Path]:
    """``geotiff(data, name="scene.tif", **options)`` writes a test GeoTIFF (see write_geotiff)."""

    def make(data: np.ndarray, name: str = "scene.tif", **options: Any) -> Path:
        return write_geotiff(tmp_path / name, data, **options)

    return make
