"""write_vector: every format round-trips with its CRS; GeoPackage 1.2; atomic; clear errors."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from affine import Affine

from geocrobim.errors import OutputError, UsageError
from geocrobim.vector import PolygonTable, polygonize, resolve_format, write_vector
from geocrobim.vector import formats as formats_module
from geocrobim.vector.formats import shapefile_names

FORMATS = ["gpkg", "geojson", "shp", "fgb", "parquet"]
GEOGRAPHIC = Affine(0.0001, 0.0, 9.0, 0.0, -0.0001, 45.5)


def _read(path: Path) -> gpd.GeoDataFrame:
    if path.suffix == ".parquet":
        return gpd.read_parquet(path)
    layer = next(name for name, geom in pyogrio.list_layers(path) if geom)
    return gpd.read_file(path, layer=layer)


@pytest.fixture
def objects(write_raster) -> gpd.GeoDataFrame:
    mask = np.zeros((60, 80), np.uint8)
    mask[5:20, 5:30] = 1
    mask[10:14, 10:14] = 0
    mask[30:50, 40:70] = 1
    return polygonize(write_raster(mask), attributes={"expression": "the two roofs", "score": 0.5})


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_projected(objects: gpd.GeoDataFrame, tmp_path: Path, fmt: str) -> None:
    path = write_vector(objects, tmp_path / "out" / f"roofs.{fmt}")
    back = _read(path)
    assert back.crs.to_epsg() == (4326 if fmt == "geojson" else 32633)
    assert len(back) == 2
    # FlatGeobuf's spatial index reorders features, Shapefiles reorient rings: compare sets
    areas = np.sort(back.to_crs(32633).geometry.area.to_numpy())
    assert areas == pytest.approx(np.sort(objects.geometry.area.to_numpy()), rel=1e-3 if fmt == "geojson" else 1e-12)  # RFC 7946: 7 decimals, ~1 cm
    assert back["expression"].tolist() == ["the two roofs"] * 2
    perimeter = "perim_m" if fmt == "shp" else "perimeter_m"
    assert np.sort(back[perimeter].to_numpy()) == pytest.approx(np.sort(objects["perimeter_m"].to_numpy()))


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_geographic(write_raster, tmp_path: Path, fmt: str) -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[5:25, 10:30] = 1
    table = polygonize(write_raster(mask, crs="EPSG:4326", transform=GEOGRAPHIC), as_table=True)
    back = _read(write_vector(table, tmp_path / "out" / f"geo.{fmt}"))
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].normalize().equals_exact(table.geometries[0].normalize(), 1e-9)


def test_geojson_is_reprojected_to_wgs84_with_a_warning(objects, tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="geocrobim"):
        path = write_vector(objects, tmp_path / "roofs.geojson")
    assert "EPSG:32633" in caplog.text and "EPSG:4326" in caplog.text
    back = gpd.read_file(path)
    reference = objects.to_crs(4326)
    assert back.geometry.iloc[0].equals_exact(reference.geometry.iloc[0], 1e-7)  # RFC 7946: 7 decimals
    assert 14.9 < back.geometry.iloc[0].centroid.x < 15.1  # UTM 33N's central meridian is 15E


def test_geopackage_is_version_1_2_with_default_style(objects, tmp_path) -> None:
    path = write_vector(objects, tmp_path / "roofs.gpkg", layer="roofs_layer")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10200
        contents = dict(db.execute("SELECT table_name, data_type FROM gpkg_contents"))
        style = db.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles").fetchall()
    assert contents == {"roofs_layer": "features", "layer_styles": "attributes"}
    assert [row[:3] for row in style] == [("roofs_layer", "geom", 1)]
    assert 'fieldName="expression"' in style[0][3]
    assert path.with_suffix(".qml").read_text() == style[0][3]
    info = pyogrio.read_info(path, layer="roofs_layer")
    assert info["crs"] == "EPSG:32633" and info["features"] == 2 and info["geometry_type"] == "Polygon"


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_layer_keeps_crs_and_schema(objects, tmp_path, fmt) -> None:
    path = write_vector(objects.iloc[:0], tmp_path / "out" / f"none.{fmt}")
    back = _read(path)
    assert len(back) == 0
    assert back.crs.to_epsg() == (4326 if fmt == "geojson" else 32633)
    expected = {"expression", "score", "area_m2", "perim_m" if fmt == "shp" else "perimeter_m"}
    if fmt == "geojson":  # GeoJSON has no schema without features; the layer still opens with its CRS
        expected = set()
    assert expected <= set(back.columns)


def test_existing_output_needs_overwrite_and_is_untouched(objects, tmp_path) -> None:
    out = tmp_path / "out"
    path = write_vector(objects, out / "roofs.shp")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"roofs.cpg", "roofs.dbf", "roofs.prj", "roofs.shp", "roofs.shx", "roofs.qml"}
    with pytest.raises(OutputError, match=r"roofs\.shp.*--overwrite"):
        write_vector(objects.iloc[:1], path)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    write_vector(objects.iloc[:1], path, overwrite=True, style=False)
    assert len(_read(path)) == 1
    assert sorted(p.name for p in out.iterdir()) == ["roofs.cpg", "roofs.dbf", "roofs.prj", "roofs.shp", "roofs.shx"]


def test_failed_write_leaves_nothing(objects, tmp_path, monkeypatch) -> None:
    def broken(table, path, fmt, layer):
        path.write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(formats_module, "_write", broken)
    with pytest.raises(OutputError, match="No space left"):
        write_vector(objects, tmp_path / "out" / "roofs.gpkg")
    assert list((tmp_path / "out").iterdir()) == []


def test_raster_style_with_the_same_basename_is_kept(objects, tmp_path) -> None:
    raster_style = tmp_path / "scene.qml"
    raster_style.write_text("<qgis><pipe><rasterrenderer type='paletted'/></pipe></qgis>")
    write_vector(objects, tmp_path / "scene.gpkg")
    assert "rasterrenderer" in raster_style.read_text()
    with sqlite3.connect(tmp_path / "scene.gpkg") as db:  # the polygon style is still in the GeoPackage
        assert db.execute("SELECT count(*) FROM layer_styles").fetchone()[0] == 1


def test_format_resolution() -> None:
    assert resolve_format("a.GPKG")[0].name == "gpkg"
    assert resolve_format("a.json")[0].name == "geojson"
    assert resolve_format("out/objects", "fgb")[1] == Path("out/objects.fgb")
    with pytest.raises(UsageError, match="--format"):
        resolve_format("a.kml")
    with pytest.raises(UsageError, match="make them agree"):
        resolve_format("a.gpkg", "shp")
    with pytest.raises(UsageError, match="not supported"):
        resolve_format("a", "kml")


def test_shapefile_names_are_short_and_unique() -> None:
    names = shapefile_names(["area_m2", "perimeter_m", "expression", "description_long", "description_longer"])
    assert names == {
        "area_m2": "area_m2", "perimeter_m": "perim_m", "expression": "expression",
        "description_long": "descriptio", "description_longer": "descript_1",
    }


def test_mixed_polygons_and_multipolygons(tmp_path) -> None:
    table = PolygonTable(
        np.array([shapely.box(0, 0, 1, 1), shapely.MultiPolygon([shapely.box(2, 2, 3, 3), shapely.box(4, 4, 5, 5)])]),
        {"n": np.array([1, 2])},
        gpd.GeoSeries(crs="EPSG:32633").crs,
    )
    for fmt in ("gpkg", "shp", "fgb"):
        back = _read(write_vector(table, tmp_path / f"mixed.{fmt}"))
        assert sorted(back.geometry.area.tolist()) == [1.0, 2.0]
        assert set(back.geom_type) <= {"MultiPolygon", "Polygon"}
