"""polygonize: exact geometry, block-wise == whole-array, foreground rules, clean-up, errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import shapely
from affine import Affine
from vector_helpers import UTM_TRANSFORM, blobs

from geocrobim.errors import InputNotFoundError, RasterError, UsageError
from geocrobim.vector import polygonize


def _pixel_box(transform: Affine, rows: tuple[int, int], cols: tuple[int, int]) -> shapely.Polygon:
    (x0, y0), (x1, y1) = transform @ (cols[0], rows[0]), transform @ (cols[1], rows[1])
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _same_polygons(a: np.ndarray, b: np.ndarray) -> bool:
    """Same multiset of polygons (order-free): equal count, areas, and identical union."""
    if len(a) != len(b):
        return False
    if not np.array_equal(np.sort(shapely.area(a)), np.sort(shapely.area(b))):
        return False
    return shapely.symmetric_difference(shapely.union_all(a), shapely.union_all(b)).area == 0


def test_rectangle_is_one_exact_polygon_with_measures(write_raster) -> None:
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 5:25] = 1
    gdf = polygonize(write_raster(mask))

    assert len(gdf) == 1
    assert gdf.crs.to_epsg() == 32633
    assert gdf.geometry.iloc[0].equals(_pixel_box(UTM_TRANSFORM, (10, 20), (5, 25)))
    assert gdf["area_m2"].iloc[0] == pytest.approx(10 * 20 * 0.25)
    assert gdf["perimeter_m"].iloc[0] == pytest.approx(2 * (10 + 20) * 0.5)
    assert list(gdf.columns) == ["area_m2", "perimeter_m", "geometry"]


@pytest.mark.parametrize("workers", [1, 2])
def test_blockwise_equals_whole_array(write_raster, workers: int) -> None:
    mask = blobs((300, 260), count=60, seed=3)
    path = write_raster(mask, block=16)
    whole = polygonize(path, block_size=4096, workers=1, as_table=True)
    blocked = polygonize(path, block_size=64, workers=workers, as_table=True)

    # the test is only meaningful if objects really cross the 64 px block grid
    crossing = shapely.bounds(shapely.transform(blocked.geometries, lambda xy: np.column_stack(~UTM_TRANSFORM @ xy.T)))
    cut = ((crossing[:, 0] // 64) != ((crossing[:, 2] - 1) // 64)) | ((crossing[:, 1] // 64) != ((crossing[:, 3] - 1) // 64))
    assert cut.sum() >= 5
    assert _same_polygons(whole.geometries, blocked.geometries)
    assert blocked.columns["area_m2"].sum() == pytest.approx(mask.sum() * 0.25)
    assert shapely.is_valid(blocked.geometries).all()


def test_forkserver_workers_match(write_raster, monkeypatch) -> None:
    # With torch loaded (the segmentation engine), forking is unsafe and a forkserver starts workers.
    import importlib

    module = importlib.import_module("geocrobim.vector.polygonize")
    path = write_raster(blobs((200, 200), count=30, seed=5), block=16)
    serial = polygonize(path, block_size=64, workers=1, as_table=True)
    monkeypatch.setattr(module, "_start_method", lambda: "forkserver")
    pooled = polygonize(path, block_size=64, workers=2, as_table=True)
    assert _same_polygons(serial.geometries, pooled.geometries)


def test_block_merge_keeps_4_connectivity_and_holes(write_raster) -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[31, 31] = mask[32, 32] = 1  # two pixels meeting only at the block corner (32, 32)
    mask[2:30, 10:50] = 1  # a ring around a hole, cut by the block border at column 32
    mask[8:20, 20:40] = 0
    mask[40:60, 5:12] = mask[40:60, 52:60] = mask[56:60, 5:60] = 1  # a U whose legs meet in another block
    path = write_raster(mask, block=16)
    whole = polygonize(path, block_size=4096, as_table=True)
    blocked = polygonize(path, block_size=32, as_table=True)
    small = polygonize(path, block_size=16, as_table=True)  # the ring is cut into 6 pieces here

    assert len(blocked) == len(whole) == len(small) == 4
    assert _same_polygons(whole.geometries, blocked.geometries)
    assert _same_polygons(whole.geometries, small.geometries)
    assert sorted(shapely.get_num_interior_rings(blocked.geometries).tolist()) == [0, 0, 0, 1]


def test_nodata_is_never_foreground(write_raster) -> None:
    mask = np.zeros((30, 30), np.uint8)
    mask[5:15, 5:15] = 1
    mask[:, 20:] = 255  # nodata, > 0 but not an object
    gdf = polygonize(write_raster(mask, nodata=255))
    assert len(gdf) == 1
    assert gdf["area_m2"].iloc[0] == pytest.approx(100 * 0.25)


@pytest.mark.parametrize("threshold", [128, 0.5])
def test_threshold_on_uint8_probabilities(write_raster, threshold: float) -> None:
    prob = np.zeros((30, 40), np.uint8)
    prob[2:8, 2:8] = 200  # kept
    prob[12:18, 2:8] = 127  # below 128 and below 0.5 * 255
    prob[22:28, 2:8] = 128  # kept: 128 >= 127.5
    prob[2:8, 20:30] = 40
    gdf = polygonize(write_raster(prob), threshold=threshold)
    assert len(gdf) == 2
    assert gdf["area_m2"].sum() == pytest.approx(2 * 36 * 0.25)


def test_threshold_on_float_probabilities_and_nan(write_raster) -> None:
    prob = np.zeros((20, 20), np.float32)
    prob[2:6, 2:6] = 0.9
    prob[10:14, 10:14] = 0.3
    prob[0, :] = np.nan
    assert len(polygonize(write_raster(prob), threshold=0.5)) == 1
    assert len(polygonize(write_raster(prob, "p2.tif"))) == 2  # default: value > 0


def test_min_area_fill_holes_and_simplify(write_raster) -> None:
    mask = np.zeros((60, 60), np.uint8)
    mask[5:45, 5:45] = 1
    mask[10:12, 10:12] = 0  # 4 px = 1 m2 hole
    mask[20:30, 20:30] = 0  # 100 px = 25 m2 hole
    mask[50:52, 50:52] = 1  # 1 m2 speck
    path = write_raster(mask)

    assert len(polygonize(path)) == 2
    kept = polygonize(path, min_area=2.0)
    assert len(kept) == 1 and shapely.get_num_interior_rings(kept.geometry.iloc[0]) == 2

    filled = polygonize(path, min_area=2.0, fill_holes_below=10.0)
    assert shapely.get_num_interior_rings(filled.geometry.iloc[0]) == 1
    assert filled["area_m2"].iloc[0] == pytest.approx((1600 - 100) * 0.25)

    jagged = np.zeros((60, 60), np.uint8)
    for row in range(5, 55):
        jagged[row, 5 + row % 2 : 50 + row % 3] = 1
    plain = polygonize(write_raster(jagged, "j.tif")).geometry.iloc[0]
    simple = polygonize(write_raster(jagged, "j2.tif"), simplify=1.0).geometry.iloc[0]
    assert shapely.get_num_coordinates(simple) < shapely.get_num_coordinates(plain) / 4
    assert simple.is_valid
    assert simple.area == pytest.approx(plain.area, rel=0.03)


def test_attributes_and_empty_result_keep_schema_and_crs(write_raster) -> None:
    attrs = {"expression": "the pond", "score": 0.75, "model_id": "crobim_test"}
    full = np.zeros((10, 10), np.uint8)
    full[2:5, 2:5] = 1
    gdf = polygonize(write_raster(full), attributes=attrs)
    assert list(gdf.columns) == ["expression", "score", "model_id", "area_m2", "perimeter_m", "geometry"]
    assert gdf.loc[0, "expression"] == "the pond" and gdf.loc[0, "score"] == 0.75

    empty = polygonize(write_raster(np.zeros((10, 10), np.uint8), "e.tif"), attributes=attrs)
    assert len(empty) == 0
    assert list(empty.columns) == list(gdf.columns)
    assert empty.crs.to_epsg() == 32633
    assert empty["score"].dtype == np.float64


def test_rotated_transform_is_applied(write_raster) -> None:
    rotated = Affine(0.5, 0.1, 500_000.0, 0.1, -0.5, 5_000_000.0)
    mask = np.zeros((20, 20), np.uint8)
    mask[4:8, 3:9] = 1
    geom = polygonize(write_raster(mask, transform=rotated)).geometry.iloc[0]
    expected = shapely.Polygon([rotated @ (c, r) for c, r in [(3, 4), (9, 4), (9, 8), (3, 8)]])
    assert geom.symmetric_difference(expected).area == pytest.approx(0, abs=1e-6)


def test_raster_without_crs_warns(write_raster, caplog: pytest.LogCaptureFixture) -> None:
    mask = np.zeros((10, 10), np.uint8)
    mask[1:3, 1:3] = 1
    with caplog.at_level(logging.WARNING, logger="geocrobim"):
        gdf = polygonize(write_raster(mask, crs=None))
    assert gdf.crs is None
    assert "no CRS" in caplog.text


def test_errors_name_the_problem(write_raster, tmp_path) -> None:
    with pytest.raises(InputNotFoundError, match="missing.tif"):
        polygonize(tmp_path / "missing.tif")
    (tmp_path / "notes.tif").write_text("not a raster")
    with pytest.raises(RasterError, match="notes.tif"):
        polygonize(tmp_path / "notes.tif")
    path = write_raster(np.zeros((4, 4), np.uint8))
    with pytest.raises(UsageError, match="band 2"):
        polygonize(path, band=2)
    with pytest.raises(UsageError, match="min-area"):
        polygonize(path, min_area=-1)
    with pytest.raises(UsageError, match="block size"):
        polygonize(path, block_size=0)
