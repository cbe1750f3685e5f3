"""Areas in square metres and perimeters in metres, right in any CRS.

Projected CRS: planar measures scaled by the CRS's linear unit (feet become metres).
Geographic CRS: degrees are no length, so areas come from a Lambert azimuthal equal-area
projection centred on the geometries (equal-area, so exact up to edge curvature) and
perimeters from geodesic distances on the CRS's ellipsoid. Without a CRS the numbers are in
CRS units, with a warning. Everything is vectorised over the whole geometry array.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod
from pyproj.crs import Ellipsoid

from geocrobim.vector.table import reproject

logger = logging.getLogger(__name__)


def to_pyproj(crs: Any) -> CRS | None:
    """A pyproj CRS from a rasterio CRS, pyproj CRS, EPSG code, WKT or None."""
    if crs is None:
        return None
    if isinstance(crs, CRS):
        return crs
    if hasattr(crs, "to_wkt"):  # rasterio.crs.CRS
        return CRS.from_wkt(crs.to_wkt())
    return CRS.from_user_input(crs)


def area_m2(geometries: np.ndarray, crs: Any) -> np.ndarray:
    """Area of each polygon in square metres.

    Args:
        geometries: (N,) shapely polygons in ``crs``.
        crs: their CRS (anything :func:`to_pyproj` accepts), None for unknown.

    Returns:
        (N,) float64 areas.
    """
    return _measure(geometries, crs, shapely.area, _equal_area, power=2)


def perimeter_m(geometries: np.ndarray, crs: Any) -> np.ndarray:
    """Length of every ring (outer and holes) of each polygon, in metres.

    Args:
        geometries: (N,) shapely polygons in ``crs``.
        crs: their CRS, None for unknown.

    Returns:
        (N,) float64 perimeters.
    """
    return _measure(geometries, crs, shapely.length, _geodesic_perimeter, power=1)


def _measure(
    geometries: np.ndarray,
    crs: Any,
    planar: Callable[[np.ndarray], np.ndarray],
    geographic: Callable[[np.ndarray, CRS], np.ndarray],
    power: int,
) -> np.ndarray:
    """``planar`` scaled to metres in projected CRSs, ``geographic`` in geographic ones."""
    geometries = np.asarray(geometries, dtype=object)
    crs = to_pyproj(crs)
    if crs is None or not len(geometries):
        return planar(geometries).astype(np.float64)
    if crs.is_geographic:
        return geographic(geometries, crs)
    return planar(geometries) * _metres_per_unit(crs) ** power


def _metres_per_unit(crs: CRS) -> float:
    axis = crs.axis_info[0] if crs.axis_info else None
    return float(axis.unit_conversion_factor) if axis is not None else 1.0


def _equal_area(geometries: np.ndarray, crs: CRS) -> np.ndarray:
    """Areas in a Lambert azimuthal equal-area CRS centred on the geometries' bounds."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(geometries)
    ellipsoid = _ellipsoid(crs)
    laea = CRS.from_dict(
        {
            "proj": "laea",
            "lat_0": (ymin + ymax) / 2,
            "lon_0": (xmin + xmax) / 2,
            "a": ellipsoid.semi_major_metre,
            "b": ellipsoid.semi_minor_metre,
            "units": "m",
        }
    )
    return shapely.area(reproject(geometries, crs, laea))


def _ellipsoid(crs: CRS) -> Ellipsoid:
    """The geographic CRS's ellipsoid (pyproj types it optional: a geographic CRS always has one)."""
    ellipsoid = crs.ellipsoid
    if ellipsoid is None:
        raise ValueError(f"CRS {crs.to_string()} has no ellipsoid to measure on")
    return ellipsoid


def _geodesic_perimeter(geometries: np.ndarray, crs: CRS) -> np.ndarray:
    """Sum of geodesic segment lengths over all rings of each polygon (lon/lat axis order)."""
    ellipsoid = _ellipsoid(crs)
    geod = Geod(a=ellipsoid.semi_major_metre, b=ellipsoid.semi_minor_metre)
    rings, owner = shapely.get_rings(geometries, return_index=True)
    # x is longitude even for EPSG:4326 (lat/lon axis order on paper): rasters and shapely
    # geometries always put easting/longitude first.
    lonlat, ring_of_point = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_of_point[1:] == ring_of_point[:-1]  # drop the jump from one ring to the next
    start, end = lonlat[:-1][same_ring], lonlat[1:][same_ring]
    _, _, dist = geod.inv(start[:, 0], start[:, 1], end[:, 0], end[:, 1])
    per_ring = np.bincount(ring_of_point[1:][same_ring], weights=dist, minlength=len(rings))
    return np.bincount(owner, weights=per_ring, minlength=len(geometries))

