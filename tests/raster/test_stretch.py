"""compute_stretch: once per scene, valid pixels only, any real dtype; Stretch.apply."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.windows import Window

from geocrobim.errors import UsageError
from geocrobim.raster import Stretch, compute_stretch, make_grid, open_scene, read_window
from geocrobim.raster import stretch as stretch_module


def _stretch_for(path, **kwargs):
    scene = open_scene(path)
    with scene.open() as src:
        return scene, compute_stretch(src, scene, **kwargs)


def test_uint8_passes_through_unchanged(geotiff, rgb_u8):
    scene, stretch = _stretch_for(geotiff(rgb_u8))
    assert stretch.identity
    with scene.open() as src:
        rgb, valid = read_window(src, scene, Window(0, 0, 420, 300), stretch)
    np.testing.assert_array_equal(rgb, rgb_u8)
    assert valid.all()


def test_uint16_percentiles_ignore_nodata(geotiff, rng):
    data = rng.integers(1000, 3001, (3, 200, 300)).astype(np.uint16)
    data[:, :, :100] = 0  # a third of the scene is nodata: must not drag the low end to 0
    scene, stretch = _stretch_for(geotiff(data, nodata=0))
    valid = data[:, :, 100:].reshape(3, -1)
    expected_low = np.percentile(valid, 2, axis=1)
    expected_high = np.percentile(valid, 98, axis=1)
    # Full-resolution sample here (the scene is small): the percentiles are the exact ones.
    np.testing.assert_allclose(stretch.low, expected_low, rtol=0.01)
    np.testing.assert_allclose(stretch.high, expected_high, rtol=0.01)
    assert stretch.valid_fraction == pytest.approx(2 / 3, abs=0.01)


def test_int16_negative_values(geotiff, rng):
    data = rng.integers(-2000, 2001, (1, 150, 150)).astype(np.int16)
    scene, stretch = _stretch_for(geotiff(data, block=None))
    assert stretch.low[0] == pytest.approx(np.percentile(data, 2), abs=20)
    out = stretch.apply(np.array([[-32768, stretch.low[0], stretch.high[0], 32767]], dtype=np.int16))
    np.testing.assert_array_equal(out, [[0, 0, 255, 255]])


def test_float32_with_nan(geotiff, rng):
    data = rng.normal(0.2, 0.05, (3, 120, 160)).astype(np.float32)
    data[:, 40:60, :] = np.nan
    scene, stretch = _stretch_for(geotiff(data))
    assert scene.has_mask
    assert np.all(np.isfinite(stretch.low)) and np.all(stretch.high > stretch.low)
    assert stretch.valid_fraction == pytest.approx(1 - 20 / 120, abs=0.01)
    with scene.open() as src:
        rgb, valid = read_window(src, scene, Window(0, 0, 160, 120), stretch)
    assert not valid[40:60].any() and valid[:40].all() and valid[60:].all()
    assert (rgb[:, 40:60] == 0).all()
    assert rgb[:, valid].mean() == pytest.approx(127.5, abs=10)


def test_value_range_overrides_statistics(geotiff, rng):
    data = rng.integers(0, 4000, (1, 50, 50)).astype(np.uint16)
    _, stretch = _stretch_for(geotiff(data, block=None), value_range=(0, 1000))
    values = np.array([[0, 500, 1000, 3000]], dtype=np.uint16)
    np.testing.assert_array_equal(stretch.apply(values), [[0, 128, 255, 255]])


@pytest.mark.parametrize("value_range", [(10, 10), (100, 5), (0, float("nan"))])
def test_bad_value_range(geotiff, rng, value_range):
    path = geotiff(rng.integers(0, 4000, (1, 20, 20)).astype(np.uint16), block=None)
    with pytest.raises(UsageError, match="--range"):
        _stretch_for(path, value_range=value_range)


def test_stretch_is_per_scene_not_per_window(geotiff, rng):
    # Dark left half, bright right half: per-window stretching would make both look alike.
    data = np.empty((3, 256, 512), dtype=np.uint16)
    data[:, :, :256] = rng.integers(100, 200, (3, 256, 256))
    data[:, :, 256:] = rng.integers(3000, 3100, (3, 256, 256))
    scene, stretch = _stretch_for(geotiff(data))
    with scene.open() as src:
        left, _ = read_window(src, scene, Window(0, 0, 256, 256), stretch)
        right, _ = read_window(src, scene, Window(256, 0, 256, 256), stretch)
    assert left.mean() < 10 and right.mean() > 245
    # The same pixel read through two overlapping windows gets the same value.
    with scene.open() as src:
        a, _ = read_window(src, scene, Window(100, 0, 256, 256), stretch)
        b, _ = read_window(src, scene, Window(200, 0, 256, 256), stretch)
    np.testing.assert_array_equal(a[:, :, 100:], b[:, :, :156])


def test_big_scene_without_overviews_is_sampled_by_windows(geotiff, rng, monkeypatch):
    monkeypatch.setattr(stretch_module, "DECIMATED_READ_MAX_PIXELS", 100 * 100)
    data = rng.integers(500, 1500, (1, 600, 700)).astype(np.uint16)
    scene, stretch = _stretch_for(geotiff(data, block=64))
    assert not scene.overviews
    assert stretch.low[0] == pytest.approx(520, abs=15)
    assert stretch.high[0] == pytest.approx(1480, abs=15)
    windows = stretch_module._sample_windows(scene)
    assert len(windows) == 64
    assert all(w.col_off % 64 == 0 and w.row_off % 64 == 0 for w in windows)


def test_all_nodata_scene_falls_back_to_dtype_range(geotiff):
    data = np.zeros((1, 64, 64), dtype=np.uint16)
    _, stretch = _stretch_for(geotiff(data, nodata=0))
    assert stretch.valid_fraction == 0.0
    assert (stretch.low[0], stretch.high[0]) == (0.0, 65535.0)


def test_apply_paths_agree():
    stretch = Stretch(np.array([100.0, 200.0, 300.0]), np.array([1100.0, 1200.0, 1300.0]))
    values = np.arange(0, 2000, 7, dtype=np.uint16)[: 3 * 90].reshape(3, 9, 10)
    lut = stretch.apply(values)  # 16-bit: lookup table
    direct = stretch.apply(values.astype(np.float64))  # float: arithmetic
    np.testing.assert_array_equal(lut, direct)
    assert lut.dtype == np.uint8


def test_constant_band_does_not_divide_by_zero(geotiff):
    scene, stretch = _stretch_for(geotiff(np.full((1, 40, 40), 700, dtype=np.uint16), block=None))
    assert stretch.high[0] > stretch.low[0]
    assert (stretch.apply(np.full((3, 2, 2), 700, dtype=np.uint16)) == 0).all()


def test_grid_read_over_scene_matches_one_stretch(geotiff, rng):
    data = rng.integers(0, 10_000, (3, 300, 300)).astype(np.uint16)
    scene, stretch = _stretch_for(geotiff(data))
    whole = stretch.apply(data)
    with scene.open() as src:
        for window in make_grid(300, 300, 128, 32):
            rgb, _ = read_window(src, scene, window, stretch)
            r, c = window.row_off, window.col_off
            np.testing.assert_array_equal(rgb, whole[:, r : r + 128, c : c + 128])
