"""A GeoPackage 1.2 writer on the standard library's sqlite3, and the QGIS style table.

Why not GDAL through pyogrio: importing pyogrio imports pandas, geopandas and pyarrow
(~115 MB resident, ~0.3 s), more than the polygons of a 10k x 10k building mask need;
and the file has to be a 1.2 GeoPackage anyway (pyogrio's GDAL writes 1.4, which QGIS 3.22
reads with a warning). The subset written here is small and fixed: the three core tables, one
feature table with an integer ``fid``, GeoPackage geometry blobs (header + envelope + WKB),
the R-tree spatial index extension with its six triggers (OGC 12-128r15, Annex F.3), and the
``layer_styles`` table QGIS stores styles in. GDAL's ``validate_gpkg.py`` accepts the result
(tests/qgis_plugin/test_qgis_outputs.py, test_geopackage_passes_gdal_validation_without_version_warning).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from pyproj.enums import WktVersion

from geocrobim.vector.table import PolygonTable, layer_geometry_type

logger = logging.getLogger(__name__)

_APPLICATION_ID = 0x47504B47  # "GPKG"
_USER_VERSION = 10200  # GeoPackage 1.2.0
# GDAL's convention for a layer without a CRS (read back as "no CRS", unlike srs_id -1).
_UNDEFINED_SRS = (
    "Undefined SRS", 99999, "GDAL", 99999,
    'LOCAL_CS["Undefined SRS",LOCAL_DATUM["unknown",32767],UNIT["unknown",0],AXIS["Easting",EAST],AXIS["Northing",NORTH]]',
    "undefined SRS",
)
_CUSTOM_SRS_ID = 100000  # first id GDAL uses for CRSs without an EPSG code
_CHUNK = 2048  # features encoded and inserted at a time

_CORE_TABLES = """
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""

# The mandatory rows of gpkg_spatial_ref_sys (spec 1.2, requirement 11).
_REQUIRED_SRS = [
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    (
        "WGS 84 geodetic", 4326, "EPSG", 4326,
        'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
        'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,'
        'AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
]

# Spec 1.2 Annex F.3: the R-tree of a geometry column and the triggers that keep it current.
_RTREE_TRIGGERS = """
CREATE TRIGGER "rtree_{t}_{c}_insert" AFTER INSERT ON "{t}" WHEN (new."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update1" AFTER UPDATE OF "{c}" ON "{t}" WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update2" AFTER UPDATE OF "{c}" ON "{t}" WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END;
CREATE TRIGGER "rtree_{t}_{c}_update3" AFTER UPDATE ON "{t}" WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update4" AFTER UPDATE ON "{t}" WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id IN (OLD."{i}", NEW."{i}"); END;
CREATE TRIGGER "rtree_{t}_{c}_delete" AFTER DELETE ON "{t}" WHEN old."{c}" NOT NULL
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END;
"""

# QGIS 3.22's own layer_styles schema (what "Save style to database" creates in a GeoPackage).
_LAYER_STYLES = """
CREATE TABLE IF NOT EXISTS "layer_styles" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "f_table_catalog" TEXT(256), "f_table_schema" TEXT(256),
  "f_table_name" TEXT(256), "f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT,
  "styleSLD" TEXT, "useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30),
  "update_time" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))
"""


def write_gpkg(path: str | os.PathLike[str], table: PolygonTable, *, layer: str, geometry_column: str = "geom") -> None:
    """Write ``table`` as a new GeoPackage 1.2 with one feature layer and its spatial index.

    Args:
        path: the file to create (must not exist).
        table: polygons, columns and CRS.
        layer: the feature table's name.
        geometry_column: the geometry column's name.
    """
    srs = _srs_row(table.crs)
    geometry_type, geometries = _geometry_type_name(table.geometries)
    bounds = shapely.bounds(geometries)  # (N, 4) minx, miny, maxx, maxy; NaN for empty
    extent = [None] * 4
    if len(table):
        extent = [*np.nanmin(bounds[:, :2], axis=0).tolist(), *np.nanmax(bounds[:, 2:], axis=0).tolist()]
    names = list(table.columns)
    types = [_sql_type(values) for values in table.columns.values()]
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = OFF")  # a fresh file renamed into place when complete
        db.execute("PRAGMA synchronous = OFF")
        db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {_USER_VERSION}")
        db.execute("BEGIN")
        _run_script(db, _CORE_TABLES)
        db.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", [*_REQUIRED_SRS, srs])
        columns_sql = "".join(f", {_quote(n)} {t}" for n, t in zip(names, types))
        db.execute(
            f'CREATE TABLE {_quote(layer)} ("fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
            f"{_quote(geometry_column)} {geometry_type}{columns_sql})"
        )
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, min_x, min_y, max_x, max_y, srs_id)"
            " VALUES (?, 'features', ?, '', ?, ?, ?, ?, ?, ?)",
            (layer, layer, _now(), *extent, srs[1]),
        )
        db.execute("INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)", (layer, geometry_column, geometry_type, srs[1]))
        insert = f"INSERT INTO {_quote(layer)} VALUES ({', '.join('?' * (2 + len(names)))})"
        for start in range(0, len(table), _CHUNK):  # chunks: WKB of a whole layer is 100s of MB
            chunk = slice(start, start + _CHUNK)
            blobs = _geometry_blobs(geometries[chunk], bounds[chunk], srs[1])
            values = [_sql_values(v[chunk], t) for v, t in zip(table.columns.values(), types)]
            db.executemany(insert, zip(range(start + 1, start + len(blobs) + 1), blobs, *values))
        _add_rtree(db, layer, geometry_column, bounds)
        db.execute("COMMIT")
    logger.debug("wrote GeoPackage 1.2 %s: layer %s, %d features", path, layer, len(table))


def store_layer_style(
    path: str | os.PathLike[str],
    layer: str,
    qml: str,
    *,
    geometry_column: str = "geom",
    style_name: str | None = None,
    description: str = "geocrobim default style",
) -> None:
    """Store ``qml`` as the default QGIS style of ``layer`` in the GeoPackage's ``layer_styles``.

    The table and row are what QGIS 3.22 writes on "Save style to database" (catalog and
    schema empty strings, ``useAsDefault`` 1), and the table is registered in
    ``gpkg_contents`` as an ``attributes`` table, as QGIS does, so GDAL sees a valid file.
    QGIS then applies the style whenever the layer is opened.
    """
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("BEGIN")
        db.execute(_LAYER_STYLES)
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id)"
            " VALUES ('layer_styles', 'attributes', 'layer_styles', '', ?, 0)",
            (_now(),),
        )
        db.execute(
            "UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ? AND f_geometry_column = ?", (layer, geometry_column)
        )
        db.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName,"
            " styleQML, styleSLD, useAsDefault, description, owner, ui, update_time)"
            " VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', NULL, ?)",
            (layer, geometry_column, style_name or layer, qml, description, _now()),
        )
        db.execute("COMMIT")


def _srs_row(crs: CRS | None) -> tuple[str, int, str, int, str, str]:
    """The gpkg_spatial_ref_sys row of ``crs`` (EPSG code as id when it has one)."""
    if crs is None:
        return _UNDEFINED_SRS
    authority = crs.to_authority(min_confidence=100)
    definition = crs.to_wkt(WktVersion.WKT1_GDAL) or crs.to_wkt()
    if authority and authority[0] == "EPSG":
        code = int(authority[1])
        return (crs.name, code, "EPSG", code, definition, "")
    return (crs.name or "custom", _CUSTOM_SRS_ID, "NONE", _CUSTOM_SRS_ID, definition, "")


def _geometry_type_name(geometries: np.ndarray) -> tuple[str, np.ndarray]:
    """The layer's declared geometry type, and the geometries (Polygons promoted when mixed with MultiPolygons)."""
    name, promote = layer_geometry_type(geometries)
    if promote:
        single = shapely.get_type_id(geometries) == 3
        geometries = geometries.copy()
        geometries[single] = shapely.multipolygons(geometries[single], indices=np.arange(int(single.sum())))
    return ("GEOMETRY" if name == "Unknown" else name.upper()), geometries


def _geometry_blobs(geometries: np.ndarray, bounds: np.ndarray, srs_id: int) -> list[bytes | None]:
    """GeoPackage geometry blobs: "GP", version 0, flags, srs_id, xy envelope, little-endian WKB.

    Flags 0b011: little-endian header, envelope [minx, maxx, miny, maxy]; 0b10001 for empty
    geometries (no envelope, empty bit set).
    """
    n = len(geometries)
    layout = [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("envelope", "<f8", (4,))]
    header = np.zeros(n, dtype=layout)
    header["magic"] = b"GP"
    header["flags"] = 0b011
    header["srs_id"] = srs_id
    header["envelope"] = bounds[:, [0, 2, 1, 3]]
    wkb = shapely.to_wkb(geometries, byte_order=1, flavor="iso")
    raw = header.tobytes()
    size = header.itemsize
    empty = shapely.is_empty(geometries)
    blobs: list[bytes | None] = []
    for i, (w, e) in enumerate(zip(wkb.tolist(), empty.tolist())):
        if w is None:
            blobs.append(None)
        elif e:
            blobs.append(b"GP\x00\x11" + raw[i * size + 4 : i * size + 8] + w)
        else:
            blobs.append(raw[i * size : (i + 1) * size] + w)
    return blobs


def _add_rtree(db: sqlite3.Connection, layer: str, column: str, bounds: np.ndarray) -> None:
    rtree = f"rtree_{layer}_{column}"
    db.execute(f"CREATE VIRTUAL TABLE {_quote(rtree)} USING rtree(id, minx, maxx, miny, maxy)")
    keep = ~np.isnan(bounds).any(axis=1)
    ids = np.flatnonzero(keep) + 1
    rows = np.column_stack([bounds[keep][:, 0], bounds[keep][:, 2], bounds[keep][:, 1], bounds[keep][:, 3]])
    db.executemany(f"INSERT INTO {_quote(rtree)} VALUES (?, ?, ?, ?, ?)", zip(ids.tolist(), *rows.T.tolist()))
    # Triggers call ST_* functions that only GDAL/SpatiaLite connections define, so they go in
    # after the rows, which this plain sqlite3 connection inserts itself.
    _run_script(db, _RTREE_TRIGGERS.format(t=layer.replace('"', '""'), c=column.replace('"', '""'), i="fid"))
    db.execute(
        "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        (layer, column),
    )


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run statements ending in ``;`` + newline inside the open transaction.

    ``executescript`` would commit first; statements inside a trigger body end in ``; ``
    (no newline) in our scripts, so the split keeps each trigger whole.
    """
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _sql_type(values: np.ndarray) -> str:
    """GeoPackage column type for a column's values."""
    kind = values.dtype.kind
    if kind == "b":
        return "BOOLEAN"
    if kind in "iu":
        return "INTEGER"
    if kind == "f":
        return "REAL"
    if kind == "M":
        return "DATETIME"
    return "TEXT"


def _sql_values(values: np.ndarray, sql_type: str) -> list[Any]:
    """A column as Python values sqlite3 stores natively; NaN and None become NULL."""
    if sql_type == "REAL":
        return [None if v != v else v for v in values.tolist()]  # NaN != NaN
    if sql_type == "DATETIME":
        text = np.datetime_as_string(values.astype("datetime64[ms]"), unit="ms")
        return [None if t == "NaT" else f"{t}Z" for t in text.tolist()]
    if sql_type == "TEXT":
        return [None if v is None or v != v else str(v) for v in values.tolist()]
    return values.tolist()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
