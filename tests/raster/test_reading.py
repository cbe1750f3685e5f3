"""read_window: padding past the raster, resampled reads, and the valid-data mask sources."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.windows import Window

from geocrobim.raster import compute_stretch, open_scene, read_decimated, read_valid, read_window


def _read(path, window, out_shape=None, **scene_kwargs):
    scene = open_scene(path, **scene_kwargs)
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        return read_window(src, scene, window, stretch, out_shape=out_shape)


def test_window_past_the_edge_is_padded_and_invalid(geotiff, rgb_u8):
    rgb, valid = _read(geotiff(rgb_u8), Window(300, 200, 256, 256))  # raster is 420 x 300
    assert rgb.shape == (3, 256, 256) and valid.shape == (256, 256)
    assert valid[:100, :120].all()
    assert not valid[100:].any() and not valid[:, 120:].any()
    np.testing.assert_array_equal(rgb[:, :100, :120], rgb_u8[:, 200:300, 300:420])
    assert not rgb[:, 100:].any() and not rgb[:, :, 120:].any()


def test_window_entirely_outside_is_all_invalid(geotiff, rgb_u8):
    rgb, valid = _read(geotiff(rgb_u8), Window(1000, 0, 64, 64))
    assert not valid.any() and not rgb.any()


def test_nodata_pixels_are_invalid(geotiff, rgb_u8):
    data = np.maximum(rgb_u8, 1)
    data[:, 10:20, 30:50] = 0
    data[0, 50, 50] = 0  # one band at nodata: the pixel is still a pixel (pure G/B)
    rgb, valid = _read(geotiff(data, nodata=0), Window(0, 0, 420, 300))
    assert not valid[10:20, 30:50].any()
    assert valid[50, 50]
    assert valid.sum() == 300 * 420 - 200


def test_alpha_band_masks_pixels(geotiff, rgb_u8):
    alpha = np.full((1, 300, 420), 255, dtype=np.uint8)
    alpha[0, 100:150, :] = 0
    data = np.concatenate([rgb_u8, alpha])
    rgb, valid = _read(geotiff(data, colorinterp=["red", "green", "blue", "alpha"]), Window(0, 0, 420, 300))
    assert not valid[100:150].any() and valid[:100].all() and valid[150:].all()
    assert not rgb[:, 100:150].any()
    np.testing.assert_array_equal(rgb[:, :100], rgb_u8[:, :100])


def test_internal_mask_masks_pixels(geotiff, rgb_u8, tmp_path):
    mask = np.ones((300, 420), dtype=bool)
    mask[:, :64] = False
    path = geotiff(rgb_u8, mask=mask)
    assert not list(tmp_path.glob("*.msk")), "the mask must be internal (GDAL_TIFF_INTERNAL_MASK)"
    rgb, valid = _read(path, Window(0, 0, 420, 300))
    np.testing.assert_array_equal(valid, mask)


def test_out_shape_reads_at_another_gsd(geotiff, rgb_u8):
    rgb, valid = _read(geotiff(rgb_u8), Window(0, 0, 200, 200), out_shape=(100, 100))
    assert rgb.shape == (3, 100, 100) and valid.all()
    # Bilinear 2x decimation of smooth gradients stays close to the block mean.
    expected = rgb_u8[:, :200, :200].reshape(3, 100, 2, 100, 2).mean(axis=(2, 4))
    assert np.abs(rgb.astype(float) - expected).mean() < 4


def test_out_shape_with_padding_keeps_proportions(geotiff, rgb_u8):
    # 400 x 400 source window, 120 rows of it inside: 60 of 200 output rows hold data.
    rgb, valid = _read(geotiff(rgb_u8), Window(0, 180, 400, 400), out_shape=(200, 200))
    assert valid[:60].all() and not valid[60:].any()


def test_nodata_mask_at_reduced_resolution(geotiff, rgb_u8):
    data = rgb_u8.copy()
    data[:, :, :200] = 0
    rgb, valid = _read(geotiff(data, nodata=0), Window(0, 0, 400, 300), out_shape=(150, 200))
    assert not valid[:, :99].any() and valid[:, 101:].all()


def test_single_band_is_read_once_and_replicated(geotiff, rng):
    band = rng.integers(0, 255, (1, 64, 64), dtype=np.uint8)
    rgb, valid = _read(geotiff(band, block=None), Window(0, 0, 64, 64))
    for c in range(3):
        np.testing.assert_array_equal(rgb[c], band[0])


def test_band_order_is_respected(geotiff, rng):
    data = np.stack([np.full((32, 32), v, dtype=np.uint8) for v in (10, 20, 30, 40)])
    rgb, _ = _read(geotiff(data, block=None), Window(0, 0, 32, 32), bands=(4, 2, 1))
    assert [int(rgb[c, 0, 0]) for c in range(3)] == [40, 20, 10]


@pytest.mark.parametrize("dtype", ["uint32", "int32", "float64"])
def test_wide_dtypes(geotiff, rng, dtype):
    data = (rng.random((3, 64, 64)) * 1e6).astype(dtype)
    rgb, valid = _read(geotiff(data), Window(0, 0, 64, 64))
    assert valid.all() and rgb.dtype == np.uint8
    assert 100 < rgb.mean() < 155


@pytest.mark.parametrize("kind", ["nodata", "nan", "alpha", "plain"])
@pytest.mark.parametrize(
    ("window", "out_shape"),
    [(Window(0, 0, 420, 300), None), (Window(300, 200, 256, 256), None), (Window(-50, 100, 300, 300), (150, 150))],
)
def test_read_valid_matches_read_window(geotiff, rgb_u8, kind, window, out_shape):
    data = np.maximum(rgb_u8, 1)
    data[:, 10:40, 30:350] = 0
    options = {}
    if kind == "nodata":
        options["nodata"] = 0
    elif kind == "nan":
        data = data.astype(np.float32)
        data[data == 0] = np.nan
    elif kind == "alpha":
        data = np.concatenate([data, np.where(data[:1] == 0, 0, 255).astype(np.uint8)])
        options["colorinterp"] = ["red", "green", "blue", "alpha"]
    scene = open_scene(geotiff(data, **options))
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        _, expected = read_window(src, scene, window, stretch, out_shape=out_shape)
        valid = read_valid(src, scene, window, out_shape=out_shape)
    np.testing.assert_array_equal(valid, expected)
    if window.row_off == 0 and out_shape is None:  # the full-scene window sees the strip
        assert valid[10:40, 30:350].any() == (kind == "plain")
        assert valid[40:].all()


@pytest.mark.parametrize("out_shape", [(75, 105), (300, 420), (7, 3)])
def test_read_decimated_strips_match_one_decimated_read(geotiff, rgb_u8, out_shape):
    data = rgb_u8.copy()
    data[:, 200:, :50] = 0
    scene = open_scene(geotiff(data, nodata=0, block=32), bands=(3, 1, 2))
    with scene.open() as src:
        strips, valid = read_decimated(src, scene, out_shape)
        whole = src.read([3, 1, 2], out_shape=(3, *out_shape))
        whole_valid = src.dataset_mask(out_shape=out_shape) > 0
    assert strips.dtype == np.uint8 and strips.shape == (3, *out_shape)
    np.testing.assert_array_equal(strips, whole)
    np.testing.assert_array_equal(valid, whole_valid)
