"""Writing polygons: GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet; atomic, styled.

Every format is written under a hidden temporary name next to the output (same filesystem;
:func:`geocrobim.raster.atomic_path`) and renamed when complete, so a failure never leaves a
partial file at the final path; a Shapefile's sidecars and the style move with it.
Format quirks handled here:

- GeoPackage: written as version 1.2 with sqlite3 (:mod:`geocrobim.vector.gpkg`; pyogrio's
  GDAL writes 1.4, which QGIS 3.22 and GDAL < 3.7 read with a warning); the QGIS style goes
  into ``layer_styles``.
- GeoJSON: RFC 7946 requires WGS84 longitude/latitude, so other CRSs are reprojected, with
  a warning.
- Shapefile: field names are limited to 10 characters; longer names are mapped
  (``perimeter_m`` -> ``perim_m``) and the mapping is logged.
- GeoParquet: written by geopandas (needs pyarrow), CRS as PROJJSON in the metadata.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from pyproj import CRS

from geocrobim.errors import DependencyError, OutputError, UsageError
from geocrobim.raster import atomic_path, check_output_path, ensure_output_dir
from geocrobim.run_warnings import warn
from geocrobim.vector.gpkg import store_layer_style, write_gpkg
from geocrobim.vector.styles import polygon_qml, write_text_atomic
from geocrobim.vector.table import PolygonTable, layer_geometry_type

logger = logging.getLogger(__name__)

#: What :func:`write_vector` accepts: a :class:`PolygonTable` or a GeoDataFrame.
Table = Any


@dataclass(frozen=True)
class VectorFormat:
    """One output format.

    Attributes:
        name: the ``--format`` value.
        extension: file extension, with the dot.
        driver: GDAL driver name (GeoPackage and GeoParquet have their own writers).
        layer_options: GDAL layer creation options.
    """

    name: str
    extension: str
    driver: str
    layer_options: Mapping[str, str] = field(default_factory=dict)


FORMATS: dict[str, VectorFormat] = {
    f.name: f
    for f in (
        VectorFormat("gpkg", ".gpkg", "GPKG"),  # written by geocrobim.vector.gpkg, version 1.2
        VectorFormat("geojson", ".geojson", "GeoJSON", layer_options={"RFC7946": "YES"}),
        VectorFormat("shp", ".shp", "ESRI Shapefile"),  # UTF-8 .cpg from the encoding argument
        VectorFormat("fgb", ".fgb", "FlatGeobuf"),
        VectorFormat("parquet", ".parquet", "Parquet"),
    )
}
#: File extension -> format name (aliases included).
EXTENSIONS: dict[str, str] = {
    **{f.extension: f.name for f in FORMATS.values()},
    ".json": "geojson",
    ".geoparquet": "parquet",
}
#: Known long attribute names and their Shapefile (<= 10 characters) names.
SHAPEFILE_NAMES: dict[str, str] = {"perimeter_m": "perim_m"}
_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def resolve_format(path: str | os.PathLike[str], format: str | None = None) -> tuple[VectorFormat, Path]:  # noqa: A002 - the keyword matches --format
    """The format of an output path and the path with the right extension.

    Args:
        path: output file; without an extension, the format's is appended.
        format: format name; None infers it from the extension.

    Raises:
        UsageError: unknown format or extension, or a format that contradicts the extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    from_ext = EXTENSIONS.get(suffix)
    if format is None:
        if from_ext is None:
            raise UsageError(
                f"cannot tell the vector format of {path.name!r} from its extension; "
                f"use one of {', '.join(EXTENSIONS)} or pass --format ({', '.join(FORMATS)})"
            )
        return FORMATS[from_ext], path
    name = str(format).lower()
    if name not in FORMATS:
        raise UsageError(f"vector format {format!r} is not supported; use one of {', '.join(FORMATS)}")
    if from_ext is not None and from_ext != name:
        raise UsageError(f"output {path.name!r} has a {suffix} extension but --format is {name}; make them agree")
    if from_ext is None:
        path = path.with_name(path.name + FORMATS[name].extension)
    return FORMATS[name], path


def write_vector(
    data: Table,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,  # noqa: A002 - mirrors the CLI's --format
    layer: str | None = None,
    style: bool = True,
    overwrite: bool = False,
    label_field: str | None = "expression",
) -> Path:
    """Write polygons to a vector file, atomically, with a QGIS style.

    Args:
        data: a GeoDataFrame or a :class:`PolygonTable`; empty ones write a valid empty
            layer with CRS and schema.
        path: output file; the extension picks the format unless ``format`` is given.
        format: ``gpkg``, ``geojson``, ``shp``, ``fgb`` or ``parquet``.
        layer: layer name (GeoPackage, GeoJSON); defaults to the file's stem.
        style: also write the QGIS style: a ``.qml`` sidecar, and for GeoPackage the
            ``layer_styles`` table.
        overwrite: replace an existing output (and its sidecars).
        label_field: attribute the style labels with, when the layer has it.

    Returns:
        The written file's path (with the format's extension).

    Raises:
        UsageError: unknown or contradicting format.
        OutputError: the output exists without ``overwrite``, or cannot be written.
        DependencyError: GeoParquet without pyarrow.
    """
    fmt, path = resolve_format(path, format)
    check_output(path, overwrite)
    table, names = _prepare(data, fmt)
    layer = layer or path.stem
    try:
        with atomic_path(path, overwrite=overwrite) as tmp:  # sidecars with tmp's stem move along
            _write(table, tmp, fmt, layer)
            if style:
                label = names.get(label_field, label_field) if label_field else None
                qml = polygon_qml(label if label in table.columns else None)
                if not _is_raster_style(path.with_suffix(".qml")):
                    write_text_atomic(tmp.with_suffix(".qml"), qml)
                else:
                    warn(logger, "kept %s, the style of a raster with the same name", path.with_suffix(".qml"))
                if fmt.name == "gpkg":
                    store_layer_style(tmp, layer, qml)
            if overwrite:
                _drop_stale_sidecars(path, tmp, fmt)
    except OutputError:
        raise
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise OutputError(f"cannot write {path} ({reason}); choose a writable folder") from exc
    logger.info("wrote %d features to %s", len(table), path)
    return path


def check_output(path: Path, overwrite: bool) -> None:
    """Refuse an existing output without ``overwrite``; create the output folder if needed."""
    if path.is_dir():
        raise OutputError(f"output {path} is a folder; pass a file name such as {path / 'objects.gpkg'}")
    ensure_output_dir(path.parent)
    check_output_path(path, overwrite)


def _is_raster_style(qml: Path) -> bool:
    """True when ``qml`` styles a raster (e.g. ``x.qml`` of ``x.tif`` beside ``x.gpkg``): leave it alone."""
    try:
        return "<rasterrenderer" in qml.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return False


def _prepare(data: Table, fmt: VectorFormat) -> tuple[PolygonTable, dict[str, str]]:
    """The data as a table the format can take, and the column renames applied."""
    table = data if isinstance(data, PolygonTable) else PolygonTable.from_geodataframe(data)
    if fmt.name == "geojson":
        return _to_wgs84(table), {}
    if fmt.name == "shp":
        renames = {old: new for old, new in shapefile_names(list(table.columns)).items() if old != new}
        if renames:
            logger.info("Shapefile field names are limited to 10 characters: %s", ", ".join(f"{k} -> {v}" for k, v in renames.items()))
            return table.rename(renames), renames
    return table, {}


def shapefile_names(columns: list[str]) -> dict[str, str]:
    """Map attribute names to unique names of at most 10 characters (Shapefile's limit)."""
    result: dict[str, str] = {}
    used: set[str] = set()
    for name in columns:
        new = name if len(name) <= 10 else SHAPEFILE_NAMES.get(name, name[:10])
        counter = 1
        while new.lower() in used:  # dBASE names are case-insensitive
            suffix = f"_{counter}"
            new = name[: 10 - len(suffix)] + suffix
            counter += 1
        used.add(new.lower())
        result[name] = new
    return result


def written_crs(crs: CRS | None, format: str) -> CRS | None:  # noqa: A002 - mirrors write_vector's format
    """The CRS a layer in ``crs`` has once :func:`write_vector` wrote it as ``format``.

    The layer's own CRS, except GeoJSON: always WGS84 (RFC 7946), unless the layer has no
    CRS (its coordinates are then written as they are, without one).
    """
    if crs is None or str(format).lower() != "geojson":
        return crs
    return crs if crs.to_epsg() == 4326 else CRS.from_epsg(4326)


def _to_wgs84(table: PolygonTable) -> PolygonTable:
    target = written_crs(table.crs, "geojson")
    if table.crs is None:
        warn(logger, "writing GeoJSON without a CRS: RFC 7946 expects WGS84 longitude/latitude, coordinates are left as they are")
        return table
    if target is table.crs:
        return table
    warn(logger, "GeoJSON (RFC 7946) is always WGS84: reprojecting from %s to EPSG:4326", table.crs.to_string())
    return table.to_crs(target)


def _write(table: PolygonTable, path: Path, fmt: VectorFormat, layer: str) -> None:
    if fmt.name == "gpkg":
        write_gpkg(path, table, layer=layer)
    elif fmt.name == "parquet":
        try:
            table.to_geodataframe().to_parquet(path, index=False)
        except ImportError as exc:
            raise DependencyError("writing GeoParquet needs pyarrow; install it with `pip install pyarrow`") from exc
    else:
        import pyogrio.raw  # imports pandas and pyarrow too: only for these formats

        geometry_type, promote = layer_geometry_type(table.geometries)
        pyogrio.raw.write(
            path,
            shapely.to_wkb(table.geometries),
            list(table.columns.values()),
            list(table.columns),
            layer=None if fmt.name == "shp" else layer,  # a Shapefile's layer is its file name
            driver=fmt.driver,
            geometry_type=geometry_type,
            promote_to_multi=promote,
            crs=table.crs.to_wkt() if table.crs is not None else None,
            encoding="UTF-8",
            layer_options=dict(fmt.layer_options) or None,
        )


def _drop_stale_sidecars(path: Path, tmp: Path, fmt: VectorFormat) -> None:
    """Remove the replaced output's sidecars that this write does not replace (never a raster's style)."""
    for suffix in (".qml", *(_SHAPEFILE_SIDECARS if fmt.name == "shp" else ())):
        old = path.with_suffix(suffix)
        if not tmp.with_suffix(suffix).exists() and (suffix != ".qml" or not _is_raster_style(old)):
            old.unlink(missing_ok=True)
