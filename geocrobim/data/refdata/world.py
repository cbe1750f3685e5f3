"""Real features seen through one chip, adapted into the objects the synthetic grammar evaluates.

The grammar (:mod:`geocrobim.data.synthetic.grammar`) measures objects in metres, x east
and y south from the image's top-left corner. Here every feature that reaches into a chip
is mapped from the scene's CRS into those chip metres and wrapped as a
:class:`RealObject`; a feature of category "river" that runs across the chip also becomes
the chip's :class:`~geocrobim.data.synthetic.objects.River` (centreline and water), so
"north of the river" means what it means in synthetic scenes.

Visibility: a feature mostly on nodata (or padding) is not in the image and leaves the
table; one partly on nodata stays as a distractor but is never a target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.affinity
from affine import Affine
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry

from geocrobim.data.refdata.layers import Features
from geocrobim.data.refdata.split import Chip
from geocrobim.data.synthetic.chips import tolerance
from geocrobim.data.synthetic.grammar import ObjectTable
from geocrobim.data.synthetic.objects import River

#: a feature with less than this share of its chip pixels valid is not in the image.
MIN_VISIBLE = 0.5
#: a target must have at least this share of its pixels valid.
TARGET_VISIBLE = 0.95
POLYGONAL = (3, 6)  # GEOS type ids: Polygon, MultiPolygon


@dataclass
class RealObject:
    """A feature as the grammar sees it (see :class:`geocrobim.data.synthetic.grammar.Referable`).

    Attributes:
        id: the feature's row in :class:`~geocrobim.data.refdata.layers.Features`.
        category: its category noun.
        polygon: its geometry in chip metres (any geometry type; lines and points are context).
        colour: grammar attribute or None.
        size: grammar attribute or None.
        form: grammar attribute or None.
        host: always None (no "on the lake" for real features).
        visible: share of its chip pixels that hold valid data.
    """

    id: int
    category: str
    polygon: BaseGeometry
    colour: str | None = None
    size: str | None = None
    form: str | None = None
    host: str | None = None
    visible: float = 1.0

    @property
    def referable(self) -> bool:
        return True

    @property
    def polygonal(self) -> bool:
        return shapely.get_type_id(self.polygon) in POLYGONAL


@dataclass
class ChipWorld:
    """What one chip shows: its objects and its river (a :class:`~geocrobim.data.synthetic.grammar.World`)."""

    objects: list[RealObject]
    river: River | None = None
    view: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    tol: float = 2.0
    gsd: float = 1.0

    def table(self) -> ObjectTable:
        """The grammar's table over this chip."""
        return ObjectTable(self, self.view, self.tol)


def chip_world(features: Features, chip: Chip, scene_transform: Affine, valid: np.ndarray | None = None) -> ChipWorld:
    """The objects of ``chip``.

    Args:
        features: all features, in the scene's CRS.
        chip: the chip.
        scene_transform: the scene's pixel -> CRS transform.
        valid: (size, size) bool validity of the chip's pixels; None: all valid.

    Returns:
        The chip's world; its :meth:`ChipWorld.table` is what expressions are checked against.
    """
    extent = chip.size * chip.gsd
    view = (0.0, 0.0, extent, extent)
    tol = tolerance(chip.gsd)
    box_crs = shapely.box(*chip.bounds(scene_transform))
    rows = np.sort(features.tree.query(box_crs, predicate="intersects"))
    to_m = chip.to_metres(scene_transform).to_shapely()
    view_box = shapely.box(*view)
    objects: list[RealObject] = []
    for r in rows:
        geom = shapely.affinity.affine_transform(features.geoms[r], to_m)
        if not shapely.intersects(geom, view_box):
            continue
        visible = _visible(geom, chip, valid)
        if visible < MIN_VISIBLE:
            continue
        attrs = {name: features.attr(name, r) for name in ("colour", "size", "form")}
        objects.append(RealObject(int(r), str(features.category[r]), geom, visible=visible, **attrs))
    water = [o.polygon for o in objects if o.category == "river"]
    river = river_in_view(shapely.union_all(water), view, tol) if water else None
    return ChipWorld(objects, river, view, tol, chip.gsd)


def _visible(geom: BaseGeometry, chip: Chip, valid: np.ndarray | None) -> float:
    """Share of the feature's chip pixels that are valid (1 for lines and points, and without a mask)."""
    if valid is None or shapely.get_type_id(geom) not in POLYGONAL or valid.all():
        return 1.0
    mask = burn(geom, chip)
    n = int(mask.sum())
    if n == 0:  # smaller than a pixel: judge by its centroid's pixel
        c = shapely.centroid(geom)
        i, j = int(c.y / chip.gsd), int(c.x / chip.gsd)
        return float(valid[i, j]) if 0 <= i < chip.size and 0 <= j < chip.size else 0.0
    return float(valid[mask].sum()) / n


def burn(geom_m: BaseGeometry, chip: Chip) -> np.ndarray:
    """(size, size) bool mask of a geometry given in chip metres."""
    return rasterize(
        [(geom_m, 1)], out_shape=(chip.size, chip.size), transform=Affine.scale(chip.gsd), fill=0, dtype="uint8"
    ).astype(bool)


def river_in_view(water: BaseGeometry, view: tuple[float, float, float, float], tol: float) -> River | None:
    """The river a chip shows, if it runs across the chip; None if it ends inside or barely shows.

    A line (a river's centreline layer) is given a water strip of ``tol``; a polygon is
    its own water. The centreline is the midpoint of the water across its main axis,
    station by station, so :meth:`River.side` has the meaning it has in synthetic scenes.
    """
    box = shapely.box(*view)
    if shapely.get_type_id(water) not in POLYGONAL and not isinstance(water, shapely.GeometryCollection):
        water = water.buffer(tol)
    water = shapely.make_valid(water).intersection(box)
    if water.is_empty or water.area <= 0:
        return None
    xy = shapely.get_coordinates(water.boundary)
    centre = xy.mean(axis=0)
    _, _, vt = np.linalg.svd(xy - centre, full_matrices=False)
    ax, ay = float(vt[0, 0]), float(vt[0, 1])
    along = (xy - centre) @ np.array([ax, ay])
    lo, hi = float(along.min()), float(along.max())
    side = min(view[2] - view[0], view[3] - view[1])
    if hi - lo < 0.7 * side:  # it does not cross the chip: "north of the river" would be unclear
        return None
    stations = []
    reach = 2.0 * math.hypot(view[2] - view[0], view[3] - view[1])
    for s in np.linspace(lo, hi, 33)[1:-1]:
        p = centre + s * np.array([ax, ay])
        cut = shapely.LineString([p - reach * np.array([ay, -ax]), p + reach * np.array([ay, -ax])])
        part = cut.intersection(water)
        if part.is_empty:
            continue
        across = (shapely.get_coordinates(part) - centre) @ np.array([ay, -ax])
        stations.append(centre + s * np.array([ax, ay]) + 0.5 * (across.min() + across.max()) * np.array([ay, -ax]))
    if len(stations) < 2:
        return None
    return River(np.asarray(stations), water, water.buffer(tol), (ax, ay))
