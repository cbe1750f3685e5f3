"""The raster layer on real files (tests/real_rasters, see ATTRIBUTION.md): open, stretch, read, stitch, COG."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from geocrobim.raster import compute_stretch, make_grid, open_scene, read_window


def brightness(rgb: np.ndarray) -> np.ndarray:
    """A 'model' whose probability is the pixel's mean brightness: (1, h, w) float32."""
    return rgb.mean(axis=0, dtype=np.float32)[None] / 255.0


def test_landsat_uint16_band(data_dir, pipeline):
    scene, stretch, cog_path = pipeline(data_dir / "landsat8_b4_crop.tif", brightness)
    assert (scene.dtype, scene.bands, scene.crs.to_epsg(), scene.gsd_m) == ("uint16", (1, 1, 1), 32616, 30.0)
    with rasterio.open(data_dir / "landsat8_b4_crop.tif") as src:
        raw = src.read(1)
        src_profile = (src.crs, src.transform, src.width, src.height)
    # Per-scene percentiles of the real data (small scene: an exact, full-resolution sample).
    assert stretch.low[0] == pytest.approx(np.percentile(raw, 2))
    assert stretch.high[0] == pytest.approx(np.percentile(raw, 98))
    with rasterio.open(cog_path) as cog:
        assert (cog.crs, cog.transform, cog.width, cog.height) == src_profile
        prob = cog.read(1).astype(int)
    # The brightness "model" reproduces the stretched band through tiling and blending, seam-free.
    expected = stretch.apply(raw).astype(int)
    assert np.abs(prob - expected).max() <= 1


def test_shade_nodata_255(data_dir, pipeline):
    path = data_dir / "shade_crop.tif"
    scene, stretch, cog_path = pipeline(path, brightness)
    assert (scene.nodata, scene.crs.to_epsg(), scene.overviews) == (255.0, 3857, (2, 4))
    with rasterio.open(path) as src:
        raw = src.read(1)
    nodata = raw == 255
    with rasterio.open(cog_path) as cog:
        mask = cog.dataset_mask()
        prob = cog.read(1)
    np.testing.assert_array_equal(mask == 0, nodata)  # nodata never becomes object or background
    assert (prob[nodata] == 0).all()
    assert stretch.identity  # uint8 passes through
    np.testing.assert_array_equal(prob[~nodata], raw[~nodata])


def test_hro_rgb_orthophoto(data_dir, pipeline):
    path = data_dir / "hro_rgb_crop.tif"
    scene = open_scene(path)
    assert scene.bands == (1, 2, 3) and scene.dtype == "uint8" and scene.crs.to_epsg() == 26913
    assert scene.res == pytest.approx((0.1498, 0.1500), abs=1e-4)  # non-square pixels
    assert scene.gsd_m == pytest.approx(0.1499, abs=1e-4)
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        raw = src.read()
        for window in make_grid(scene.width, scene.height, 100, 20):
            rgb, valid = read_window(src, scene, window, stretch)
            r, c = window.row_off, window.col_off
            np.testing.assert_array_equal(rgb, raw[:, r : r + 100, c : c + 100])
            assert valid.all()
    _, _, cog_path = pipeline(path, brightness, tile=96, overlap=24)
    with rasterio.open(cog_path) as cog:
        assert cog.transform == scene.transform and cog.crs == scene.crs
        np.testing.assert_allclose(cog.read(1), raw.mean(axis=0), atol=1)
