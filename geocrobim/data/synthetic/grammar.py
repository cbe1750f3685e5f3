"""The meaning of a referring expression: a query evaluated over a scene's objects.

A :class:`Query` is a category filter with optional attributes, an optional
locator (absolute region, side of the river, relation to an anchor object) and an
optional ordinal (largest, leftmost, second from the top). Every predicate returns a
*margin* per object in units of its own tolerance: > 0 satisfies, < 0 does not, and
|margin| >= 1 means "clearly". The generator only keeps an expression when the target
is clearly in and every other object clearly out (:meth:`Query.check`), so no
expression hinges on a borderline pixel; tests use the plain truth (margin > 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geocrobim.data.synthetic.objects import River

DIRECTIONS = {"north": (0.0, -1.0), "south": (0.0, 1.0), "east": (1.0, 0.0), "west": (-1.0, 0.0)}
REGIONS = ("top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right")


class Referable(Protocol):
    """What the grammar reads of an object: a synthetic :class:`SceneObject` or a real feature."""

    id: int
    category: str
    colour: str | None
    size: str | None
    form: str | None
    host: str | None

    @property
    def referable(self) -> bool: ...

    @property
    def polygon(self) -> BaseGeometry: ...


class World(Protocol):
    """What the grammar reads of a scene: its objects and its river (a :class:`Layout` is one)."""

    @property
    def objects(self) -> Sequence[Referable]: ...

    @property
    def river(self) -> River | None: ...


class ObjectTable:
    """Referable objects of a view as arrays, for vectorised predicates.

    Args:
        layout: the scene: a synthetic :class:`~geocrobim.data.synthetic.objects.Layout`, or
            any :class:`World` (real features adapted by :mod:`geocrobim.data.refdata`).
        view: (minx, miny, maxx, maxy) metres: what the image shows. Every referable
            object that reaches into it is a candidate (partly visible ones included,
            so they count as distractors).
        tol: positional tolerance in metres (about three pixels).
    """

    def __init__(self, layout: World, view: tuple[float, float, float, float], tol: float) -> None:
        self.view = view
        self.tol = tol
        self.river: River | None = layout.river
        box = shapely.box(*view)
        objs = [o for o in layout.objects if o.referable]
        polys = np.asarray([o.polygon for o in objs], dtype=object)
        keep = shapely.intersects(polys, box) if len(objs) else np.zeros(0, bool)
        # SceneObjects in synthetic scenes, refdata's RealObjects for real features
        self.objects: list[Any] = [o for o, k in zip(objs, keep, strict=True) if k]
        # the river runs far beyond the view: describe it by its visible part
        self.polys = np.asarray(
            [o.polygon.intersection(box) if o.category == "river" else o.polygon for o in self.objects],
            dtype=object,
        )
        self.ids = np.asarray([o.id for o in self.objects], np.int64)
        self.category = np.asarray([o.category for o in self.objects], dtype=object)
        self.colour = np.asarray([o.colour for o in self.objects], dtype=object)
        self.size = np.asarray([o.size for o in self.objects], dtype=object)
        self.form = np.asarray([o.form for o in self.objects], dtype=object)
        self.host = np.asarray([o.host for o in self.objects], dtype=object)
        centroids = shapely.get_coordinates(shapely.centroid(self.polys)) if len(self.objects) else np.zeros((0, 2))
        self.cx, self.cy = centroids[:, 0], centroids[:, 1]
        self.area = shapely.area(self.polys).astype(np.float64) if len(self.objects) else np.zeros(0)

    def __len__(self) -> int:
        return len(self.objects)

    @cached_property
    def clearance(self) -> np.ndarray:
        """(N,) distance (m) from each object to the river's water; 0 for objects on it."""
        if self.river is None:
            return np.zeros(len(self))
        return shapely.distance(self.polys, self.river.water.simplify(0.5)).astype(np.float64)

    @cached_property
    def river_side(self) -> np.ndarray:
        """(N,) signed distance (m) of each centroid from the river's centreline (see :meth:`River.side`)."""
        return self.river.side(self.cx, self.cy) if self.river is not None else np.zeros(len(self))

    def index(self, obj_id: int) -> int:
        """Row of an object id."""
        return int(np.flatnonzero(self.ids == obj_id)[0])


# -- filters and locators ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """Category and attribute words: "the large red-roofed L-shaped warehouse"."""

    category: str
    colour: str | None = None
    size: str | None = None
    form: str | None = None

    def margins(self, t: ObjectTable) -> np.ndarray:
        ok = t.category == self.category
        for name in ("colour", "size", "form"):
            value = getattr(self, name)
            if value is not None:
                ok &= getattr(t, name) == value
        return np.where(ok, np.inf, -np.inf)


@dataclass(frozen=True)
class Region:
    """Absolute position in the image: "in the top left corner", "in the centre"."""

    name: str

    def margins(self, t: ObjectTable) -> np.ndarray:
        x0, y0, x1, y1 = t.view
        w, h = x1 - x0, y1 - y0
        p, q = (t.cx - x0) / w, (t.cy - y0) / h
        parts = self.name.split()
        vertical = next((s for s in parts if s in ("top", "bottom")), "centre" if self.name == "centre" else None)
        horizontal = next((s for s in parts if s in ("left", "right")), "centre" if self.name == "centre" else None)
        out = np.full(len(t), np.inf)
        for axis, side in ((p, horizontal), (q, vertical)):
            if side is None:
                continue
            band = {"left": 1 / 3 - axis, "top": 1 / 3 - axis, "right": axis - 2 / 3, "bottom": axis - 2 / 3}.get(side)
            band = np.minimum(axis - 1 / 3, 2 / 3 - axis) if band is None else band
            out = np.minimum(out, band / 0.05)
        return out


@dataclass(frozen=True)
class RiverSide:
    """ "north of the river": on that bank, clear of the water."""

    direction: str

    def margins(self, t: ObjectTable) -> np.ndarray:
        river = t.river
        sign = river.compass_side(self.direction) if river is not None else None
        if sign is None or river is None:
            return np.full(len(t), -np.inf)
        clear = t.clearance
        out = np.where(sign * t.river_side > 0, clear, -clear - t.tol) / t.tol
        return np.where(t.category == "river", -np.inf, out)


@dataclass(frozen=True)
class OnWater:
    """ "on the river" / "on the lake" (ships)."""

    kind: str

    def margins(self, t: ObjectTable) -> np.ndarray:
        return np.where(t.host == self.kind, np.inf, -np.inf)


def _resolve(anchor: Query, t: ObjectTable) -> int | None:
    """Row of the one object an anchor phrase clearly names, else None."""
    return anchor.check(t)


@dataclass(frozen=True)
class Direction:
    """ "north of the storage tank": inside a 90-degree cone, within reach of the anchor."""

    direction: str
    anchor: Query

    def margins(self, t: ObjectTable) -> np.ndarray:
        a = _resolve(self.anchor, t)
        if a is None:
            return np.full(len(t), -np.inf)
        dx, dy = t.cx - t.cx[a], t.cy - t.cy[a]
        ux, uy = DIRECTIONS[self.direction]
        along, across = dx * ux + dy * uy, np.abs(dx * uy - dy * ux)
        reach = max(80.0, 5.0 * math.sqrt(t.area[a]))
        out = np.minimum((along - across) / math.sqrt(2), reach - np.hypot(dx, dy)) / t.tol
        out[a] = -np.inf
        return out


@dataclass(frozen=True)
class NextTo:
    """ "next to the roundabout": the footprints nearly touch."""

    anchor: Query

    def margins(self, t: ObjectTable) -> np.ndarray:
        a = _resolve(self.anchor, t)
        if a is None:
            return np.full(len(t), -np.inf)
        gap = shapely.distance(t.polys, t.polys[a])
        near = np.maximum(8.0, 0.6 * np.sqrt(np.maximum(t.area, t.area[a])))
        out = (near - gap) / t.tol
        out[a] = -np.inf
        return out


@dataclass(frozen=True)
class Between:
    """ "between the tennis court and the lake": near the segment joining the two anchors."""

    first: Query
    second: Query

    def margins(self, t: ObjectTable) -> np.ndarray:
        a, b = _resolve(self.first, t), _resolve(self.second, t)
        if a is None or b is None or a == b:
            return np.full(len(t), -np.inf)
        ab = np.array([t.cx[b] - t.cx[a], t.cy[b] - t.cy[a]])
        length = float(np.hypot(*ab))
        ux, uy = ab / max(length, 1e-9)
        dx, dy = t.cx - t.cx[a], t.cy - t.cy[a]
        along, across = dx * ux + dy * uy, np.abs(dx * uy - dy * ux)
        out = np.minimum(np.minimum(along - 0.15 * length, 0.85 * length - along), 0.3 * length - across) / t.tol
        out[[a, b]] = -np.inf
        return out


@dataclass(frozen=True)
class AcrossRiver:
    """ "across the river from the red warehouse": on the other bank than the anchor."""

    anchor: Query

    def margins(self, t: ObjectTable) -> np.ndarray:
        a = _resolve(self.anchor, t)
        river = t.river
        if a is None or river is None:
            return np.full(len(t), -np.inf)
        sides, clear = t.river_side, t.clearance
        if clear[a] <= t.tol:
            return np.full(len(t), -np.inf)
        out = np.where(np.sign(sides) != np.sign(sides[a]), clear, -clear - t.tol) / t.tol
        out[a] = -np.inf
        return np.where(t.category == "river", -np.inf, out)


Locator = Region | RiverSide | OnWater | Direction | NextTo | Between | AcrossRiver


@dataclass(frozen=True)
class Ordinal:
    """Rank among the objects the rest of the query selects.

    Attributes:
        key: "x" (west to east), "y" (north to south) or "size" (sqrt of area).
        rank: 0 for first, 1 for second.
        descending: sort from the largest value (rightmost, bottom-most, largest).
    """

    key: str
    rank: int = 0
    descending: bool = False

    def values(self, t: ObjectTable) -> np.ndarray:
        return {"x": t.cx, "y": t.cy, "size": np.sqrt(t.area)}[self.key]

    def margins(self, t: ObjectTable, base: np.ndarray) -> np.ndarray:
        members = np.flatnonzero(base > 0)
        out = np.where(base > 0, -np.inf, base)
        if len(members) < self.rank + 2:  # "the largest" of one thing is no superlative
            return np.minimum(out, -np.inf)
        v = self.values(t)
        order = members[np.argsort(-v[members] if self.descending else v[members], kind="stable")]
        pick = order[self.rank]
        # "clearly first": ahead of the next by a third of its own size (15 % for sizes)
        scale = max(t.tol, (0.15 if self.key == "size" else 0.33) * math.sqrt(t.area[pick]))
        gaps = np.abs(v[members] - v[pick])
        out[members] = -gaps / scale
        others = gaps[members != pick]
        out[pick] = min(float(others.min()) / scale, float(base[pick]))
        return out


@dataclass(frozen=True)
class Nearest:
    """ "the building nearest the road": of the objects the rest selects, the one closest to an anchor.

    Ranked like an :class:`Ordinal` (``key`` "near"): the chosen one must be closer than
    the runner-up by a third of its own size (at least the tolerance).
    """

    anchor: Query
    key: str = "near"

    def margins(self, t: ObjectTable, base: np.ndarray) -> np.ndarray:
        a = _resolve(self.anchor, t)
        out = np.where(base > 0, -np.inf, base)
        if a is None:
            return np.minimum(out, -np.inf)
        members = np.flatnonzero((base > 0) & (np.arange(len(t)) != a))
        if len(members) < 2:  # "the nearest" of one thing says nothing about nearness
            return np.minimum(out, -np.inf)
        d = shapely.distance(t.polys, t.polys[a]).astype(np.float64)
        pick = members[int(np.argmin(d[members]))]
        scale = max(t.tol, 0.33 * math.sqrt(t.area[pick]))
        gaps = d[members] - d[pick]
        out[members] = -gaps / scale
        out[a] = -np.inf
        out[pick] = min(float(np.delete(gaps, np.flatnonzero(members == pick)).min()) / scale, float(base[pick]))
        return out


Rank = Ordinal | Nearest


@dataclass(frozen=True)
class Query:
    """What an expression means: filter, then locator, then ordinal (or nearest-to).

    ``every=True`` names all the objects the filter and locator select ("every ship north of
    the river"), not one; such a query has no ordinal.
    """

    filter: Filter
    locator: Locator | None = None
    ordinal: Rank | None = None
    every: bool = False

    def base_margins(self, t: ObjectTable) -> np.ndarray:
        """Margins of filter and locator together (before the ordinal)."""
        m = self.filter.margins(t)
        if self.locator is not None:
            m = np.minimum(m, self.locator.margins(t))
        return m

    def margins(self, t: ObjectTable) -> np.ndarray:
        """(N,) margins of the whole query over the table's objects."""
        m = self.base_margins(t)
        return self.ordinal.margins(t, m) if self.ordinal is not None else m

    def evaluate(self, t: ObjectTable) -> list[int]:
        """Ids of every object the query is true of (margin > 0)."""
        return [int(i) for i in t.ids[self.margins(t) > 0]]

    def check(self, t: ObjectTable, clear: float = 1.0) -> int | None:
        """The row of the one object the query clearly names, or None.

        Clearly: its margin >= ``clear`` and every other object's <= -``clear``; with an
        ordinal, membership of the ranked set must itself be clear.
        """
        if len(t) == 0:
            return None
        if self.ordinal is not None and np.any(np.abs(self.base_margins(t)) < clear):
            return None
        m = self.margins(t)
        winners = np.flatnonzero(m >= clear)
        if len(winners) != 1 or np.any(np.delete(m, winners[0]) > -clear):
            return None
        return int(winners[0])

    def check_all(self, t: ObjectTable, clear: float = 1.0, most: int = 12) -> list[int] | None:
        """The rows of the objects the query clearly names when they are 2 to ``most``, else None.

        Clearly, as in :meth:`check`: every member's margin >= ``clear``, everything else's <= -``clear``.
        """
        if len(t) == 0 or self.ordinal is not None:
            return None
        m = self.margins(t)
        members = np.flatnonzero(m >= clear)
        if not 2 <= len(members) <= most or np.any((m > -clear) & (m < clear)):
            return None
        return [int(i) for i in members]
