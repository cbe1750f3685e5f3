"""Vectors and QGIS styles (torch-free): masks to polygons, every common format, styled layers.

- :func:`polygonize`: one polygon per connected foreground component of a raster band,
  block by block with pieces merged across block borders; ``area_m2`` and ``perimeter_m``.
- :func:`write_vector`: GeoPackage 1.2, GeoJSON (RFC 7946), Shapefile, FlatGeobuf,
  GeoParquet; atomic; QGIS style as a ``.qml`` sidecar and in the GeoPackage.
- :func:`write_raster_style`: the ``.qml`` sidecar that makes a mask open styled in QGIS.
"""

from __future__ import annotations

from geocrobim.vector.formats import FORMATS, check_output, resolve_format, write_vector, written_crs
from geocrobim.vector.measures import area_m2, perimeter_m
from geocrobim.vector.polygonize import polygonize
from geocrobim.vector.styles import polygon_qml, raster_qml, sidecar_path, write_raster_style
from geocrobim.vector.table import PolygonTable

__all__ = (
    "FORMATS",
    "PolygonTable",
    "area_m2",
    "check_output",
    "perimeter_m",
    "polygon_qml",
    "polygonize",
    "raster_qml",
    "resolve_format",
    "sidecar_path",
    "write_raster_style",
    "write_vector",
    "written_crs",
)
