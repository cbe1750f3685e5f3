"""Describe real features unambiguously, with the synthetic generator's grammar and checks.

Candidate queries for a target are built style by style (category alone, the user's
attributes, region of the chip, size superlatives, ordinals by position, side of the
river, next to / direction from / nearest to a feature of another layer), in an order
drawn from :data:`STYLES`. The first that :meth:`Query.check` finds to name the target
clearly, and every other feature of the chip clearly not, is kept; the phrasing comes
from :func:`geocrobim.data.synthetic.phrases.realise`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from geocrobim.data.refdata.world import TARGET_VISIBLE, ChipWorld, RealObject
from geocrobim.data.synthetic.grammar import (
    DIRECTIONS,
    REGIONS,
    Direction,
    Filter,
    Nearest,
    NextTo,
    ObjectTable,
    Ordinal,
    Query,
    Region,
    RiverSide,
)
from geocrobim.data.synthetic.referents import clear_anchors, filter_levels, first_clear, ranked_candidates

#: style -> weight: how often each kind of expression is tried first.
STYLES: dict[str, float] = {
    "category": 0.06,
    "attribute": 0.14,
    "region": 0.14,
    "superlative": 0.12,
    "ordinal": 0.12,
    "river": 0.12,
    "next_to": 0.10,
    "direction": 0.08,
    "nearest": 0.12,
}


def filters_for(obj: RealObject, rng: np.random.Generator) -> list[Filter]:
    """Filters true of ``obj``: category, then each attribute, then pairs (shuffled within a level)."""
    return filter_levels(obj.category, [(k, v) for k in ("colour", "size", "form") if (v := getattr(obj, k))], rng)


def targets(world: ChipWorld, t: ObjectTable, *, categories: frozenset[str] | None = None,
            min_pixels: float = 24.0) -> list[int]:  # fmt: skip
    """Rows fit to be targets: polygons wholly inside the chip (2 px clear), big enough, not on nodata."""
    x0, y0, x1, y1 = t.view
    gsd = world.gsd
    pad = 2 * gsd
    out = []
    for i, obj in enumerate(t.objects):
        if not isinstance(obj, RealObject) or not obj.polygonal or obj.category == "river":
            continue
        if categories is not None and obj.category not in categories:
            continue
        bx0, by0, bx1, by1 = obj.polygon.bounds
        inside = bx0 >= x0 + pad and by0 >= y0 + pad and bx1 <= x1 - pad and by1 <= y1 - pad
        if inside and obj.visible >= TARGET_VISIBLE and t.area[i] / gsd**2 >= min_pixels:
            out.append(i)
    return out


def anchors_near(t: ObjectTable, row: int, rng: np.random.Generator, limit: int = 6) -> list[tuple[int, Query]]:
    """Other features near the target (any layer, lines included) that a short phrase names clearly."""
    d = np.asarray([t.polys[row].distance(p) for p in t.polys])
    reach = max(60.0, 4.0 * math.sqrt(t.area[row]))
    return clear_anchors(t, row, np.argsort(d, kind="stable"), d, reach, lambda j: filters_for(t.objects[j], rng), limit)


def _compact(t: ObjectTable, j: int) -> bool:
    """An anchor whose centre means something for "north of": a polygon wholly in the view."""
    obj = t.objects[j]
    x0, y0, x1, y1 = t.view
    bx0, by0, bx1, by1 = obj.polygon.bounds
    return bool(getattr(obj, "polygonal", False)) and bx0 >= x0 and by0 >= y0 and bx1 <= x1 and by1 <= y1


def candidates(style: str, t: ObjectTable, row: int, rng: np.random.Generator) -> Iterator[Query]:
    """Queries of one style that may name the target row (checked by the caller)."""
    obj: RealObject = t.objects[row]
    filters = filters_for(obj, rng)
    if style == "category":
        yield Query(filters[0])
    elif style == "attribute":
        yield from (Query(f) for f in filters[1:])
    elif style == "region":
        regions = [r for r in REGIONS if Region(r).margins(t)[row] >= 1]
        yield from (Query(f, Region(r)) for r in regions for f in filters[:3])
    elif style == "river":
        sides = [d for d in DIRECTIONS if RiverSide(d).margins(t)[row] >= 1]
        yield from (Query(f, RiverSide(d)) for d in sides for f in filters[:3])
        within = [Ordinal("size", 0, True), Ordinal("x", 0, False), Ordinal("x", 0, True)]
        yield from (Query(f, RiverSide(d), o) for d in sides for o in within for f in filters[:2])
    elif style in ("next_to", "direction", "nearest"):
        for j, aq in anchors_near(t, row, rng):
            if style == "next_to":
                yield from (Query(f, NextTo(aq)) for f in filters[:2])
            elif style == "nearest":
                yield from (Query(f, None, Nearest(aq)) for f in filters[:2])
            elif _compact(t, j):
                for d in DIRECTIONS:
                    if Direction(d, aq).margins(t)[row] >= 1:
                        yield from (Query(f, Direction(d, aq)) for f in filters[:2])
    elif style in ("superlative", "ordinal"):
        yield from ranked_candidates(style, filters, rng)


def describe(t: ObjectTable, row: int, rng: np.random.Generator, *, max_checks: int = 80) -> Query | None:
    """A query that names the target row clearly and every other feature clearly not, or None."""
    return first_clear(STYLES, lambda style: candidates(style, t, row, rng), t, row, rng, max_checks)
