"""write_cog and the atomic output helpers."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rio_cogeo.cogeo import cog_validate

from geocrobim.errors import OutputError, UsageError
from geocrobim.raster import Stitcher, atomic_path, blend_weights, ensure_output_dir, make_grid, write_cog


@pytest.fixture
def stitched(tmp_path):
    """A 1200 x 900 two-band probability GeoTIFF from the stitcher, with an invalid strip."""
    windows = make_grid(1200, 900, 256, 64)
    transform = rasterio.Affine(0.5, 0.0, 480_000.0, 0.0, -0.5, 5_120_000.0)
    path = tmp_path / "stitched.tif"
    with Stitcher(
        path, width=1200, height=900, windows=windows, weights=blend_weights(256, 64), count=2,
        crs=CRS.from_epsg(32633), transform=transform,
    ) as stitcher:
        for w in windows:
            valid = np.ones((256, 256), dtype=bool)
            if w.row_off == 0:
                valid[:40] = False
            stitcher.add(w, np.full((2, 256, 256), 0.7, dtype=np.float32), valid)
    return path


def test_cog_is_valid_and_keeps_the_grid(stitched, tmp_path):
    dst = write_cog(stitched, tmp_path / "prob.tif", resampling="average")
    # rio-cogeo's structural check (tiling, overviews, IFD and data order), warnings included.
    assert cog_validate(dst, quiet=True) == (True, [], [])
    with rasterio.open(stitched) as src, rasterio.open(dst) as cog:
        assert cog.driver == "GTiff"
        assert cog.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert cog.profile["tiled"] and cog.block_shapes[0] == (512, 512)
        # Overviews down to one 512 px tile: 1200 / 4 = 300.
        assert cog.overviews(1) == [2, 4]
        assert (cog.crs, cog.transform, cog.width, cog.height, cog.count) == (
            src.crs, src.transform, src.width, src.height, src.count,
        )
        assert cog.compression.name == "deflate"
        np.testing.assert_array_equal(cog.read(), src.read())
        mask = cog.dataset_mask()
        assert (mask[:40] == 0).all() and (mask[40:] == 255).all()


def test_nodata_is_declared(tmp_path, geotiff):
    data = np.zeros((1, 600, 700), dtype=np.uint8)
    data[0, 100:200, 100:300] = 1
    data[0, :50] = 255
    src = geotiff(data, name="mask_tmp.tif")
    dst = write_cog(src, tmp_path / "mask.tif", nodata=255, resampling="nearest")
    with rasterio.open(dst) as cog:
        assert cog.nodata == 255
        assert cog.overviews(1) == [2]
        # Nearest overviews keep the mask's values to {0, 1, nodata}.
        assert set(np.unique(cog.read(1, out_shape=(300, 350)))) <= {0, 1, 255}
        np.testing.assert_array_equal(cog.read(1), data[0])


def test_bad_resampling_or_compression(stitched, tmp_path):
    with pytest.raises(UsageError, match="sideways"):
        write_cog(stitched, tmp_path / "x.tif", resampling="sideways")  # type: ignore[arg-type]  # a bad value on purpose
    with pytest.raises(UsageError, match="jpeg2"):
        write_cog(stitched, tmp_path / "x.tif", compress="jpeg2")  # type: ignore[arg-type]  # a bad value on purpose


def test_atomic_path_renames_on_success(tmp_path):
    final = tmp_path / "out.tif"
    with atomic_path(final) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".tif" and tmp.name.startswith(".")
        tmp.write_bytes(b"data")
        (tmp.parent / (tmp.name + ".aux.xml")).write_text("<PAMDataset/>")
    assert final.read_bytes() == b"data"
    assert (tmp_path / "out.tif.aux.xml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif", "out.tif.aux.xml"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path, stitched):
    final = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(final) as tmp:
            write_cog(stitched, tmp)
            assert tmp.exists()
            raise RuntimeError("boom")
    assert not final.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stitched.tif"]


def test_atomic_path_refuses_existing_output(tmp_path):
    final = tmp_path / "out.tif"
    final.write_bytes(b"old")
    with pytest.raises(OutputError, match=r"out\.tif.*--overwrite"):
        with atomic_path(final):
            pass
    assert final.read_bytes() == b"old"
    with atomic_path(final, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert final.read_bytes() == b"new"


def test_atomic_path_needs_something_written(tmp_path):
    with pytest.raises(OutputError, match="nothing was written"):
        with atomic_path(tmp_path / "out.tif"):
            pass


def test_atomic_path_missing_folder(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        with atomic_path(tmp_path / "missing" / "out.tif"):
            pass


def test_ensure_output_dir(tmp_path):
    assert ensure_output_dir(tmp_path / "a" / "b").is_dir()
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="file.txt"):
        ensure_output_dir(blocker)
    with pytest.raises(OutputError, match="cannot create"):
        ensure_output_dir(blocker / "sub")
