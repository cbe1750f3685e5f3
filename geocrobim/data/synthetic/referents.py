"""Choose targets and describe them unambiguously.

For a target object, candidate queries are built style by style (category alone,
attributes, image region, side of the river, relation to an anchor, between two
anchors, across the river, superlatives, ordinals, and "every" for a set of them), in an
order drawn from the style weights. The first query that :meth:`Query.check` finds to name
the target clearly, and nothing else, is kept (for "every": the target and its like,
:meth:`Query.check_all`); a target nothing describes is skipped.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

import numpy as np

from geocrobim.data.synthetic.grammar import (
    DIRECTIONS,
    REGIONS,
    AcrossRiver,
    Between,
    Direction,
    Filter,
    NextTo,
    ObjectTable,
    OnWater,
    Ordinal,
    Query,
    Region,
    RiverSide,
)
from geocrobim.data.synthetic.objects import COLOURED, SceneObject
from geocrobim.data.synthetic.phrases import realise
from geocrobim.errors import UsageError

#: style -> weight: how often each kind of expression is tried first.
STYLES: dict[str, float] = {
    "category": 0.05,
    "attribute": 0.16,
    "region": 0.12,
    "river": 0.22,
    "water": 0.04,
    "direction": 0.10,
    "next_to": 0.10,
    "between": 0.05,
    "across": 0.06,
    "superlative": 0.06,
    "ordinal": 0.04,
    # "every ship", "all the warehouses north of the river": several objects at once. Off by default
    # (the held-out splits name one object); a training run turns it on so the model learns to light
    # every candidate that the engine then ranks itself (geocrobim.inference.scene_words).
    "every": 0.0,
}


def style_weights(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """:data:`STYLES` with some weights changed, e.g. ``{"ordinal": 0.12}`` to train more ranks.

    Raises:
        UsageError: an unknown style, a negative weight, or no positive weight left.
    """
    weights = dict(STYLES)
    for style, weight in (overrides or {}).items():
        if style not in STYLES:
            raise UsageError(f"unknown expression style {style!r}; use one of {', '.join(STYLES)}")
        if not float(weight) >= 0:
            raise UsageError(f"style weight {style}={weight} must be zero or positive")
        weights[style] = float(weight)
    if sum(weights.values()) <= 0:
        raise UsageError("every expression style has weight 0; give at least one a positive weight")
    return weights


#: how often a category is chosen as a target, relative to the others present.
TARGET_WEIGHTS: dict[str, float] = {
    "warehouse": 2.0, "house": 1.0, "storage tank": 1.2, "ship": 1.2, "vehicle": 1.0, "swimming pool": 0.8,
    "tennis court": 1.0, "basketball court": 1.0, "roundabout": 0.6, "bridge": 0.7, "lake": 0.6, "river": 0.3,
}  # fmt: skip
FORMS_THAT_INFORM = {"warehouse", "house", "swimming pool", "lake"}


@dataclass(frozen=True)
class Referent:
    """One generated expression.

    Attributes:
        text: the expression.
        query: its meaning; ``query.evaluate(table)`` is exactly ``[target_id]``.
        target_id: id of the object in the layout.
        category: the target's category.
        members: ids of every object an ``every`` query names (the target among them); empty when
            the expression names the target alone.
    """

    text: str
    query: Query
    target_id: int
    category: str
    members: tuple[int, ...] = ()


def filters_for(obj: SceneObject, rng: np.random.Generator) -> list[Filter]:
    """Attribute filters true of ``obj``, from plain to specific, shuffled within each level."""
    attrs = []
    if obj.colour and obj.category in COLOURED:
        attrs.append(("colour", obj.colour))
    if obj.size:
        attrs.append(("size", obj.size))
    if obj.form and obj.category in FORMS_THAT_INFORM:
        attrs.append(("form", obj.form))
    return filter_levels(obj.category, attrs, rng)


def filter_levels(category: str, attrs: list[tuple[str, str]], rng: np.random.Generator) -> list[Filter]:
    """The category alone, then each attribute, then each pair of them (shuffled within a level).

    Shared by the synthetic generator and :mod:`geocrobim.data.refdata`, which differ only in
    which attributes of an object are worth saying.
    """
    singles = [Filter(category, **{k: v}) for k, v in attrs]
    pairs = [Filter(category, **{k1: v1, k2: v2}) for i, (k1, v1) in enumerate(attrs) for k2, v2 in attrs[i + 1 :]]
    rng.shuffle(singles)
    rng.shuffle(pairs)
    return [Filter(category), *singles, *pairs]


def anchors_near(t: ObjectTable, row: int, rng: np.random.Generator, limit: int = 6) -> list[tuple[int, Query]]:
    """Nearby objects (other than the target) that a short phrase names clearly."""
    d = np.hypot(t.cx - t.cx[row], t.cy - t.cy[row])
    reach = max(90.0, 5.0 * math.sqrt(t.area[row]))
    return clear_anchors(t, row, np.argsort(d), d, reach, lambda j: filters_for(t.objects[j], rng), limit)


def clear_anchors(
    t: ObjectTable,
    row: int,
    order: np.ndarray,
    distance: np.ndarray,
    reach: float,
    filters: Callable[[int], list[Filter]],
    limit: int,
) -> list[tuple[int, Query]]:
    """Up to ``limit`` objects within ``reach`` of the target, nearest first, that a short phrase names clearly.

    Args:
        t: the object table.
        row: the target's row (never its own anchor; the river neither: it is said otherwise).
        order: rows to try, nearest first.
        distance: ``(N,)`` distance of every row from the target, in metres.
        reach: farthest anchor, in metres.
        filters: a row's filters, plainest first (the first 3 are tried).
        limit: at most this many anchors.

    Returns:
        ``(row, query)`` pairs; each query names its row and nothing else.
    """
    out: list[tuple[int, Query]] = []
    for j in order:
        if j == row or distance[j] > reach or t.category[j] == "river":
            continue
        for f in filters(int(j))[:3]:
            q = Query(f)
            if q.check(t) == j:
                out.append((int(j), q))
                break
        if len(out) >= limit:
            break
    return out


def candidates(style: str, t: ObjectTable, row: int, rng: np.random.Generator) -> Iterator[Query]:
    """Queries of one style that are true of the target row (checked later)."""
    obj = t.objects[row]
    filters = filters_for(obj, rng)
    if obj.category == "river":  # relations of a river to anything are better said the other way round
        if style == "category":
            yield Query(filters[0])
        return
    if style == "category":
        yield Query(filters[0])
    elif style == "attribute":
        yield from (Query(f) for f in filters[1:])
    elif style == "region":
        regions = [r for r in REGIONS if Region(r).margins(t)[row] >= 1]
        yield from (Query(f, Region(r)) for r in regions for f in filters)
    elif style == "river":
        sides = [d for d in DIRECTIONS if RiverSide(d).margins(t)[row] >= 1]
        yield from (Query(f, RiverSide(d)) for d in sides for f in filters)
        # "the largest warehouse north of the river": rank within the bank when the bank has several
        ranks = [Ordinal("size", 0, True), Ordinal("size", 0, False), Ordinal("x", 0, False), Ordinal("x", 0, True)]
        yield from (Query(f, RiverSide(d), o) for d in sides for o in ranks for f in filters[:2] if f.size is None)
    elif style == "water" and obj.category == "ship" and obj.host in ("river", "lake"):
        yield from (Query(f, OnWater(obj.host)) for f in filters[:3])
    elif style in ("direction", "next_to", "across"):
        for _, aq in anchors_near(t, row, rng):
            if style == "next_to":
                yield from (Query(f, NextTo(aq)) for f in filters[:2])
            elif style == "across":
                yield from (Query(f, AcrossRiver(aq)) for f in filters[:2])
            else:
                for d in DIRECTIONS:
                    if Direction(d, aq).margins(t)[row] >= 1:
                        yield from (Query(f, Direction(d, aq)) for f in filters[:2])
    elif style == "between":
        near = anchors_near(t, row, rng)
        for i, (_, qa) in enumerate(near):
            for _, qb in near[i + 1 :]:
                yield from (Query(f, Between(qa, qb)) for f in filters[:2])
    elif style in ("superlative", "ordinal"):
        yield from ranked_candidates(style, filters, rng)
    elif style == "every":
        # what the engine asks before it ranks: the sentence without its rank words, for all candidates
        sides = [d for d in DIRECTIONS if RiverSide(d).margins(t)[row] >= 1]
        yield from (Query(f, every=True) for f in filters[:3])
        yield from (Query(f, RiverSide(d), every=True) for d in sides for f in filters[:2])


def ranked_candidates(style: str, filters: list[Filter], rng: np.random.Generator) -> Iterator[Query]:
    """Superlative ("the largest ...") or ordinal ("the second ... from the left") queries over ``filters``.

    Shared by the synthetic generator and :mod:`geocrobim.data.refdata`: the options are
    shuffled with ``rng``, so both draw the same way.
    """
    keys = [("size", True), ("size", False)] if style == "superlative" else [
        ("x", False), ("x", True), ("y", False), ("y", True)]  # fmt: skip
    places = (0,) if style == "superlative" else (0, 1)
    options = [Ordinal(k, r, desc) for k, desc in keys for r in places]
    rng.shuffle(options)
    # "the smallest small house" says nothing twice: size words go with position ordinals only
    plain = [f for f in filters if f.size is None] if style == "superlative" else filters
    yield from (Query(f, None, o) for o in options for f in plain[:3])


def describe(
    t: ObjectTable, row: int, rng: np.random.Generator, *, max_checks: int = 60, styles: Mapping[str, float] = STYLES
) -> Query | None:
    """A query that names the target row clearly and uniquely, or None (``styles``: see :func:`style_weights`)."""
    q = first_clear(dict(styles), lambda style: candidates(style, t, row, rng), t, row, rng, max_checks)
    return None if q is None else _overspecify(q, t, row, rng)


def first_clear(
    styles: dict[str, float],
    candidates_of: Callable[[str], Iterator[Query]],
    t: ObjectTable,
    row: int,
    rng: np.random.Generator,
    max_checks: int,
) -> Query | None:
    """The first candidate that names ``row`` clearly, styles tried in a weighted random order.

    Args:
        styles: style -> weight (how often it is tried first).
        candidates_of: a style's candidate queries.
        t: the object table.
        row: the target's row.
        rng: draws the order of the styles.
        max_checks: give up (None) after checking this many candidates.
    """
    names = [s for s in styles if styles[s] > 0]  # weight 0: never tried
    p = np.asarray([styles[s] for s in names])
    order = [names[i] for i in rng.choice(len(names), size=len(names), replace=False, p=p / p.sum())]
    checks = 0
    for style in order:
        for q in candidates_of(style):
            checks += 1
            if (row in (q.check_all(t) or ())) if q.every else q.check(t) == row:
                return q
            if checks >= max_checks:
                return None
    return None


def _overspecify(q: Query, t: ObjectTable, row: int, rng: np.random.Generator) -> Query:
    """Sometimes add a true attribute the query did not need (people do), if it stays clear."""
    if rng.random() > 0.3 or q.every:  # a richer "every" query would name fewer objects
        return q
    for f in filters_for(t.objects[row], rng)[1:]:
        merged = Filter(
            q.filter.category, q.filter.colour or f.colour, q.filter.size or f.size, q.filter.form or f.form
        )
        if merged != q.filter:
            richer = replace(q, filter=merged)
            if richer.check(t) == row:
                return richer
    return q


def targets(t: ObjectTable, rng: np.random.Generator, *, gsd: float, min_pixels: float = 24.0) -> list[int]:
    """Rows of objects fit to be targets, in a random order balanced across categories.

    A target lies wholly inside the view (so its mask is whole) and covers at least
    ``min_pixels`` pixels.
    """
    x0, y0, x1, y1 = t.view
    pad = 2 * gsd
    ok = []
    for i, obj in enumerate(t.objects):
        bx0, by0, bx1, by1 = obj.footprint.bounds
        inside = obj.category == "river" or (bx0 >= x0 + pad and by0 >= y0 + pad and bx1 <= x1 - pad and by1 <= y1 - pad)
        if inside and t.area[i] / gsd**2 >= min_pixels:
            ok.append(i)
    if not ok:
        return []
    counts = Counter(t.category[i] for i in ok)
    w = np.asarray([TARGET_WEIGHTS.get(t.category[i], 1.0) / counts[t.category[i]] for i in ok])
    return [ok[i] for i in rng.choice(len(ok), size=len(ok), replace=False, p=w / w.sum())]


def generate(
    t: ObjectTable, rng: np.random.Generator, count: int, *, gsd: float, styles: Mapping[str, float] = STYLES
) -> list[Referent]:
    """Up to ``count`` expressions with distinct targets (``styles``: see :func:`style_weights`)."""
    out: list[Referent] = []
    for row in targets(t, rng, gsd=gsd):
        q = describe(t, row, rng, styles=styles)
        if q is None:
            continue
        obj = t.objects[row]
        members = tuple(int(t.ids[i]) for i in q.check_all(t) or ()) if q.every else ()
        out.append(Referent(realise(q, rng), q, obj.id, obj.category, members))
        if len(out) >= count:
            break
    return out
