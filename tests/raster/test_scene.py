"""open_scene: validation, band choice, alpha detection, georeferencing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.windows import Window

from geocrobim.errors import InputNotFoundError, RasterError, UsageError
from geocrobim.raster import compute_stretch, open_scene, read_valid, read_window


def test_rgb_scene_keeps_grid_and_crs(geotiff, rgb_u8):
    path = geotiff(rgb_u8, colorinterp=["red", "green", "blue"])
    scene = open_scene(path)
    assert (scene.width, scene.height, scene.count) == (420, 300, 3)
    assert scene.crs == CRS.from_epsg(32633)
    assert scene.transform.c == 480_000.0 and scene.transform.f == 5_120_000.0
    assert scene.res == (0.5, 0.5)
    assert scene.bands == (1, 2, 3)
    assert scene.alpha is None
    assert scene.block_shape == (256, 256)
    assert scene.has_mask is False
    assert scene.gsd_m == pytest.approx(0.5)
    assert scene.bounds == pytest.approx((480_000.0, 5_120_000.0 - 150.0, 480_000.0 + 210.0, 5_120_000.0))


def test_default_bands_follow_colour_interpretation(geotiff, rng):
    data = rng.integers(0, 255, (4, 40, 50), dtype=np.uint8)
    # Stored as B, G, R, NIR: the model must still get R, G, B.
    path = geotiff(data, colorinterp=["blue", "green", "red", "undefined"], block=None)
    assert open_scene(path).bands == (3, 2, 1)


def test_default_bands_without_colour_interpretation_are_the_first_three(geotiff, rng):
    data = rng.integers(0, 1000, (5, 40, 50), dtype=np.uint16)
    path = geotiff(data, colorinterp=["undefined"] * 5, block=None)
    assert open_scene(path).bands == (1, 2, 3)


def test_single_band_is_replicated(geotiff, rng):
    path = geotiff(rng.integers(0, 1000, (40, 50), dtype=np.uint16), block=None)
    assert open_scene(path).bands == (1, 1, 1)
    assert open_scene(path, bands=[1]).bands == (1, 1, 1)


def test_alpha_band_is_detected_and_not_used_as_data(geotiff, rng):
    data = rng.integers(0, 255, (4, 40, 50), dtype=np.uint8)
    path = geotiff(data, colorinterp=["red", "green", "blue", "alpha"])
    scene = open_scene(path)
    assert scene.alpha == 4
    assert scene.bands == (1, 2, 3)
    assert scene.has_mask is True


def test_gray_alpha_pair_uses_the_gray_band(geotiff, rng):
    data = rng.integers(0, 255, (2, 40, 50), dtype=np.uint8)
    path = geotiff(data, colorinterp=["gray", "alpha"])
    scene = open_scene(path)
    assert (scene.bands, scene.alpha) == ((1, 1, 1), 2)


def test_explicit_bands(geotiff, rng):
    path = geotiff(rng.integers(0, 1000, (6, 30, 30), dtype=np.uint16), block=None)
    assert open_scene(path, bands=(4, 3, 2)).bands == (4, 3, 2)


@pytest.mark.parametrize(
    ("bands", "needle"), [((1, 2, 7), "band 7"), ((0,), "band 0"), ((1, 2), "1 or 3"), ((1.5, 2, 3), "1.5")]
)
def test_bad_bands_are_usage_errors_naming_the_value(geotiff, rng, bands, needle):
    path = geotiff(rng.integers(0, 255, (3, 30, 30), dtype=np.uint8), block=None)
    with pytest.raises(UsageError, match=needle) as info:
        open_scene(path, bands=bands)
    if needle.startswith("band "):
        assert "3 band" in str(info.value)  # names the band count
    assert info.value.exit_code == 2


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFoundError, match="nope.tif"):
        open_scene(tmp_path / "nope.tif")


def test_text_file_renamed_tif(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("these are not pixels\n" * 20)
    with pytest.raises(RasterError, match="notes.tif.*not a raster"):
        open_scene(path)


def test_folder_is_not_a_raster(tmp_path):
    with pytest.raises(RasterError, match="folder"):
        open_scene(tmp_path)


@pytest.mark.parametrize("block", [None, 64])
def test_truncated_tiff(geotiff, rng, tmp_path, block):
    data = rng.integers(0, 255, (3, 256, 256), dtype=np.uint8)
    full = geotiff(data, block=block)
    cut = tmp_path / "cut.tif"
    payload = full.read_bytes()
    cut.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(RasterError, match="cut.tif.*(truncated|not a raster)"):
        open_scene(cut)


def test_complex_dtype_is_refused_by_name(geotiff, rng):
    data = (rng.random((1, 20, 20)) + 1j * rng.random((1, 20, 20))).astype(np.complex64)
    path = geotiff(data, block=None)
    with pytest.raises(RasterError, match="complex64"):
        open_scene(path)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"])
def test_real_dtypes_are_accepted(geotiff, dtype):
    path = geotiff(np.arange(400, dtype=dtype).reshape(1, 20, 20) % 100, block=None)
    scene = open_scene(path)
    assert scene.dtype == dtype
    assert scene.is_float == dtype.startswith("float")


def test_no_crs_is_allowed(geotiff, rng):
    path = geotiff(rng.integers(0, 255, (3, 30, 30), dtype=np.uint8), crs=None, block=None)
    scene = open_scene(path)
    assert scene.crs is None
    assert scene.gsd_m is None


def test_geographic_scene_gsd_in_metres(geotiff, rng):
    # 1e-5 degree pixels at 60 N: about 0.56 m east-west, 1.11 m north-south.
    transform = (1e-5, 0.0, 10.0, 0.0, -1e-5, 60.0)
    path = geotiff(rng.integers(0, 255, (3, 30, 30), dtype=np.uint8), crs="EPSG:4326", transform=transform, block=None)
    scene = open_scene(path)
    assert scene.crs.is_geographic
    assert scene.gsd_m == pytest.approx(0.5 * (1e-5 * 111_320 * np.cos(np.radians(60.0)) + 1e-5 * 111_320), rel=1e-3)


def test_foot_based_crs_gsd(geotiff, rng):
    # NAD83 / Colorado Central (ftUS): 2 ft pixels are 0.6096 m.
    transform = (2.0, 0.0, 3_000_000.0, 0.0, -2.0, 1_700_000.0)
    path = geotiff(rng.integers(0, 255, (3, 20, 20), dtype=np.uint8), crs="EPSG:2232", transform=transform, block=None)
    assert open_scene(path).gsd_m == pytest.approx(0.6096, rel=1e-4)


def test_scene_open_returns_a_reader(geotiff, rgb_u8):
    scene = open_scene(geotiff(rgb_u8))
    with scene.open() as src:
        assert src.shape == scene.shape


def test_overviews_are_reported(data_dir, tmp_path):
    path = shutil.copy(data_dir / "shade_crop.tif", tmp_path / "shade.tif")
    scene = open_scene(Path(path))
    assert scene.overviews == (2, 4)
    assert scene.nodata == 255
    assert scene.has_mask


def test_corrupt_block_mid_file_is_a_raster_error_when_read(geotiff, rng):
    data = rng.integers(0, 255, (3, 768, 768), dtype=np.uint8)
    path = geotiff(data, compress="deflate", nodata=0)
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
    payload = bytearray(path.read_bytes())
    payload[offset : offset + 4096] = b"\xff" * 4096  # garbage in the middle tile's deflate stream
    path.write_bytes(bytes(payload))
    scene = open_scene(path)  # first and last blocks are fine
    with scene.open() as src:
        stretch = compute_stretch(src, scene, value_range=(0, 255))
        with pytest.raises(RasterError, match=r"scene.tif is corrupt: reading rows 256-512, cols 256-512"):
            read_window(src, scene, Window(256, 256, 256, 256), stretch)
        with pytest.raises(RasterError, match="corrupt"):
            read_valid(src, scene, Window(256, 256, 256, 256))
