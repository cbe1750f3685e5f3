"""area_m2 / perimeter_m: exact in projected CRSs, equal-area and geodesic in geographic ones."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS, Geod

from geocrobim.vector import area_m2, perimeter_m, polygonize


def test_utm_square_from_a_raster(write_raster) -> None:
    mask = np.zeros((50, 50), np.uint8)
    mask[10:30, 10:30] = 1  # 20 x 20 px of 0.5 m = 10 m x 10 m
    gdf = polygonize(write_raster(mask))
    assert gdf["area_m2"].tolist() == [pytest.approx(100.0)]
    assert gdf["perimeter_m"].tolist() == [pytest.approx(40.0)]


def test_geographic_square_from_a_raster_matches_geodesic_reference(write_raster) -> None:
    # 0.0001 degree pixels near 45N; a 100 x 100 px square is about 785 m x 1111 m
    transform = Affine(0.0001, 0.0, 9.0, 0.0, -0.0001, 45.5)
    mask = np.zeros((150, 150), np.uint8)
    mask[20:120, 30:130] = 1
    gdf = polygonize(write_raster(mask, crs="EPSG:4326", transform=transform))

    square = shapely.box(9.003, 45.5 - 0.012, 9.013, 45.5 - 0.002)
    ref_area, ref_perimeter = Geod(ellps="WGS84").geometry_area_perimeter(square)
    assert gdf.crs.to_epsg() == 4326
    assert gdf["area_m2"].iloc[0] == pytest.approx(abs(ref_area), rel=1e-6)
    assert gdf["perimeter_m"].iloc[0] == pytest.approx(ref_perimeter, rel=1e-6)
    assert 8.6e5 < gdf["area_m2"].iloc[0] < 8.8e5  # ~785 m x ~1111 m, not degrees squared


def test_holes_count_in_geodesic_perimeter_and_area() -> None:
    shell = shapely.box(9.0, 45.0, 9.01, 45.01)
    hole = shapely.box(9.004, 45.004, 9.006, 45.006)
    ring = shapely.Polygon(shell.exterior.coords, [hole.exterior.coords])
    geod = Geod(ellps="WGS84")
    (a_shell, p_shell), (a_hole, p_hole) = (geod.geometry_area_perimeter(g) for g in (shell, hole))
    polys = np.array([ring, shell])
    assert area_m2(polys, "EPSG:4326") == pytest.approx([abs(a_shell) - abs(a_hole), abs(a_shell)], rel=1e-6)
    assert perimeter_m(polys, "EPSG:4326") == pytest.approx([p_shell + p_hole, p_shell], rel=1e-6)


def test_feet_are_converted_to_metres() -> None:
    square = np.array([shapely.box(1_000_000, 200_000, 1_000_100, 200_100)])  # 100 ftUS
    foot = 1200 / 3937
    assert area_m2(square, CRS.from_epsg(2263)) == pytest.approx([(100 * foot) ** 2])
    assert perimeter_m(square, "EPSG:2263") == pytest.approx([400 * foot])


def test_no_crs_and_empty_input() -> None:
    square = np.array([shapely.box(0, 0, 2, 3)])
    assert area_m2(square, None).tolist() == [6.0]
    assert perimeter_m(square, None).tolist() == [10.0]
    assert area_m2(np.empty(0, dtype=object), "EPSG:4326").shape == (0,)
