"""Outputs land on the input's own grid: projected, geographic (EPSG:4326) and pixel-space scenes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS


def red_and_blue(rgb: np.ndarray) -> np.ndarray:
    """A two-expression 'model' passing uint8 levels straight through: (2, h, w)."""
    return np.stack([rgb[0], rgb[2]])


def test_geographic_scene(geotiff, rgb_u8, pipeline):
    transform = (2e-6, 0.0, 16.37, 0.0, -2e-6, 48.21)  # about 0.15 x 0.22 m in Vienna
    scene, _, out = pipeline(
        geotiff(rgb_u8, crs="EPSG:4326", transform=transform), red_and_blue, tile=96, overlap=24, count=2
    )
    with rasterio.open(out) as cog:
        assert cog.crs == CRS.from_epsg(4326)
        assert cog.transform == scene.transform
        assert (cog.width, cog.height, cog.count) == (420, 300, 2)
        np.testing.assert_array_equal(cog.read(1), rgb_u8[0])
        np.testing.assert_array_equal(cog.read(2), rgb_u8[2])


@pytest.mark.filterwarnings("error::rasterio.errors.NotGeoreferencedWarning")
def test_pixel_space_scene_stays_in_pixel_space_quietly(tmp_path, rgb_u8, pipeline):
    path = tmp_path / "plain.tif"
    profile = {"driver": "GTiff", "width": 420, "height": 300, "count": 3, "dtype": "uint8"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:  # no CRS, no geotransform at all
            dst.write(rgb_u8)
    scene, _, out = pipeline(path, red_and_blue, tile=96, overlap=24, count=2)
    assert scene.crs is None
    with rasterio.Env(), pytest.warns(rasterio.errors.NotGeoreferencedWarning):
        cog = rasterio.open(out)  # reading it back is the only place rasterio may complain
    with cog:
        assert cog.crs is None
        np.testing.assert_array_equal(cog.read(1), rgb_u8[0])
