"""The sqlite3 GeoPackage 1.2 writer: CRSs, column types, NULLs, empty geometries, spatial index, styles."""

from __future__ import annotations

import sqlite3

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS

from geocrobim.vector import PolygonTable
from geocrobim.vector.gpkg import store_layer_style, write_gpkg


def _table(crs: CRS | None) -> PolygonTable:
    geometries = np.array([shapely.box(0, 0, 10, 10), shapely.Polygon(), None, shapely.box(20, 20, 25, 30)], dtype=object)
    columns = {
        "name": np.array(["a", None, "c", "d é"], dtype=object),
        "score": np.array([0.5, np.nan, 1.0, 2.0]),
        "count": np.array([1, 2, 3, 4], dtype=np.int64),
        "kept": np.array([True, False, True, False]),
        "when": np.array(["2024-05-01T10:00:00", "NaT", "2024-05-02T00:00:00.250", "2024-05-03"], dtype="datetime64[ms]"),
    }
    return PolygonTable(geometries, columns, crs)


def test_types_nulls_and_geometries_read_back_with_gdal(tmp_path) -> None:
    path = tmp_path / "t.gpkg"
    write_gpkg(path, _table(CRS.from_epsg(32633)), layer="things")
    info = pyogrio.read_info(path, layer="things")
    assert info["crs"] == "EPSG:32633" and info["geometry_type"] == "Polygon" and info["features"] == 4
    assert list(info["fields"]) == ["name", "score", "count", "kept", "when"]
    assert info["ogr_types"] == ["OFTString", "OFTReal", "OFTInteger64", "OFTInteger", "OFTDateTime"]
    assert info["ogr_subtypes"][3] == "OFSTBoolean"
    frame = pyogrio.read_dataframe(path, layer="things")
    assert frame["name"].tolist()[::2] == ["a", "c"] and frame["name"].isna().tolist()[1]
    assert frame["name"].iloc[3] == "d é"
    assert np.isnan(frame["score"].iloc[1]) and frame["kept"].tolist() == [True, False, True, False]
    assert str(frame["when"].iloc[2]).startswith("2024-05-02 00:00:00.25") and frame["when"].isna().tolist()[1]
    assert frame.geometry.iloc[0].equals(shapely.box(0, 0, 10, 10))
    assert frame.geometry.iloc[1].is_empty and frame.geometry.iloc[2] is None
    with sqlite3.connect(path) as db:
        assert db.execute('SELECT count(*) FROM "rtree_things_geom"').fetchone()[0] == 2  # empty/NULL not indexed
        extent = db.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name='things'").fetchone()
    assert extent == (0.0, 0.0, 25.0, 30.0)


def test_crs_without_epsg_code_and_without_crs(tmp_path) -> None:
    custom = CRS.from_proj4("+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m")
    write_gpkg(tmp_path / "custom.gpkg", _table(custom), layer="t")
    assert CRS.from_user_input(pyogrio.read_info(tmp_path / "custom.gpkg")["crs"]).equals(custom, ignore_axis_order=True)
    write_gpkg(tmp_path / "none.gpkg", _table(None), layer="t")
    assert pyogrio.read_info(tmp_path / "none.gpkg")["crs"] is None


def test_mixed_polygons_are_promoted_to_multipolygons(tmp_path) -> None:
    mixed = PolygonTable(np.array([shapely.box(0, 0, 1, 1), shapely.MultiPolygon([shapely.box(2, 2, 3, 3)])]), {}, CRS.from_epsg(3857))
    write_gpkg(tmp_path / "m.gpkg", mixed, layer="m")
    assert pyogrio.read_info(tmp_path / "m.gpkg")["geometry_type"] == "MultiPolygon"
    assert set(pyogrio.read_dataframe(tmp_path / "m.gpkg").geom_type) == {"MultiPolygon"}


def test_a_new_default_style_replaces_the_old_one(tmp_path) -> None:
    path = tmp_path / "s.gpkg"
    write_gpkg(path, _table(CRS.from_epsg(4326)), layer="s")
    store_layer_style(path, "s", "<qgis>old</qgis>")
    store_layer_style(path, "s", "<qgis>new</qgis>", style_name="mine")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT styleName, useAsDefault, styleQML FROM layer_styles ORDER BY id").fetchall()
        kinds = db.execute("SELECT data_type FROM gpkg_contents WHERE table_name='layer_styles'").fetchall()
    assert rows == [("s", 0, "<qgis>old</qgis>"), ("mine", 1, "<qgis>new</qgis>")]
    assert kinds == [("attributes",)]
    assert {name for name, _ in pyogrio.list_layers(path)} == {"s", "layer_styles"}


def test_refuses_to_write_over_an_existing_file(tmp_path) -> None:
    path = tmp_path / "x.gpkg"
    write_gpkg(path, _table(None), layer="x")
    with pytest.raises(sqlite3.OperationalError):
        write_gpkg(path, _table(None), layer="x")  # the caller (write_vector) always writes a fresh temp file
