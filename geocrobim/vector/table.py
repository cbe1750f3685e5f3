"""A light polygon table: shapely array + numpy columns + CRS, no pandas.

:func:`~geocrobim.vector.polygonize` returns one with ``as_table=True`` and :func:`~geocrobim.vector.write_vector`
writes one straight through pyogrio, so ``geocrobim vectorize`` never imports pandas
(~90 MB and ~0.3 s). :meth:`PolygonTable.to_geodataframe` gives the GeoDataFrame the
library API promises.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer


@dataclass(frozen=True)
class PolygonTable:
    """Polygons with attribute columns.

    Attributes:
        geometries: (N,) shapely geometries.
        columns: name -> (N,) array, in output order.
        crs: the geometries' CRS, None when unknown.
    """

    geometries: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    crs: CRS | None = None

    def __len__(self) -> int:
        return len(self.geometries)

    @classmethod
    def from_geodataframe(cls, gdf: Any) -> PolygonTable:
        """A table from a GeoDataFrame; pandas' nullable and string columns become numpy
        float (NaN for missing) or object (None for missing) arrays."""
        columns = {}
        for name in gdf.columns:
            if name == gdf.geometry.name:
                continue
            series = gdf[name]
            if isinstance(series.dtype, np.dtype):
                columns[str(name)] = series.to_numpy()
            elif series.dtype.kind in "iuf":  # nullable Int64/Float64
                columns[str(name)] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                columns[str(name)] = series.to_numpy(dtype=object, na_value=None)
        return cls(np.asarray(gdf.geometry.array, dtype=object), columns, gdf.crs)

    def to_geodataframe(self) -> Any:
        """The table as a GeoDataFrame (imports geopandas)."""
        import geopandas as gpd

        return gpd.GeoDataFrame(dict(self.columns), geometry=gpd.GeoSeries(self.geometries, crs=self.crs))

    def to_crs(self, crs: Any) -> PolygonTable:
        """The table reprojected to ``crs`` (vectorised, x = easting/longitude)."""
        if self.crs is None:
            raise ValueError("cannot reproject polygons without a CRS")
        target = CRS.from_user_input(crs)
        return replace(self, geometries=reproject(self.geometries, self.crs, target), crs=target)

    def take(self, index: np.ndarray) -> PolygonTable:
        """The rows at ``index`` (integer positions), in that order."""
        index = np.asarray(index, dtype=np.intp)
        return replace(
            self, geometries=self.geometries[index], columns={k: np.asarray(v)[index] for k, v in self.columns.items()}
        )

    def with_columns(self, columns: dict[str, np.ndarray], *, first: bool = False) -> PolygonTable:
        """The table with ``columns`` (N,) added or replaced, after the others or, with ``first``, before them."""
        for name, values in columns.items():
            if len(values) != len(self):
                raise ValueError(f"column {name!r} has {len(values)} values for {len(self)} rows")
        merged = {**columns, **{k: v for k, v in self.columns.items() if k not in columns}} if first else {
            **self.columns, **columns
        }
        return replace(self, columns=merged)

    def rename(self, names: dict[str, str]) -> PolygonTable:
        """The table with columns renamed by ``names`` (others unchanged)."""
        return replace(self, columns={names.get(k, k): v for k, v in self.columns.items()})


def reproject(geometries: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """(N,) geometries from ``src`` to ``dst``, vectorised over all coordinates (x first)."""
    if src == dst or not len(geometries):
        return geometries
    transformer = Transformer.from_crs(src, dst, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometries, project)


#: GEOS geometry type id -> OGR geometry type name.
_OGR_TYPES = {
    0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon",
    7: "GeometryCollection",
}


def layer_geometry_type(geometries: np.ndarray) -> tuple[str, bool]:
    """OGR geometry type name for a layer of ``geometries``, and whether singles must be promoted.

    A layer declares one type: all Polygons -> ``Polygon``; Polygons mixed with MultiPolygons
    -> ``MultiPolygon`` (promote the singles); other mixes -> ``Unknown``; empty -> ``Polygon``.
    """
    kinds = {_OGR_TYPES.get(k, "Unknown") for k in np.unique(shapely.get_type_id(geometries)).tolist() if k >= 0}
    if not kinds:
        return "Polygon", False
    if len(kinds) == 1:
        return kinds.pop(), False
    if kinds == {"Polygon", "MultiPolygon"}:
        return "MultiPolygon", True
    return "Unknown", False
