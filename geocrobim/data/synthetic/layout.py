"""Generate a scene layout: river, roads, bridges, roundabouts, land parcels, then objects.

Everything is in metres and drawn from one ``numpy.random.Generator``, so a seed
fixes the scene completely. Object sizes are physical (a car is 4.5 m long), so the
same layout rendered at 0.3 m or 2 m GSD shows the same world.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geocrobim.data.synthetic.objects import Layout, Parcel, River, Road
from geocrobim.data.synthetic.palette import LAND, WATER, Grading, shade
from geocrobim.data.synthetic.placement import parcel_angle
from geocrobim.data.synthetic.populate import populate
from geocrobim.data.synthetic.shapes import Footprint

#: theme -> land-use weights. A scene draws one theme; chips get variety from it.
THEMES: dict[str, dict[str, float]] = {
    "industrial": {"yard": 4.0, "lawn": 1.0, "grass": 1.2, "crop": 0.4, "forest": 0.6, "sports": 0.5},
    "suburban": {"lawn": 4.0, "sports": 0.9, "grass": 1.0, "forest": 0.8, "crop": 0.4, "yard": 0.7},
    "rural": {"crop": 2.0, "ripe": 1.4, "ploughed": 1.2, "forest": 1.4, "grass": 1.0, "lawn": 0.6, "yard": 0.5},
    "mixed": {"yard": 1.6, "lawn": 1.6, "sports": 0.6, "grass": 0.9, "crop": 0.7, "ripe": 0.4, "ploughed": 0.3, "forest": 0.7},
    "port": {"yard": 3.0, "lawn": 1.0, "grass": 0.8, "forest": 0.4, "sports": 0.4},
}

_MARGIN = 30.0  # metres generated beyond the extent, so objects and land run off the edges


def generate_layout(
    width: float,
    height: float,
    seed: int | np.random.SeedSequence,
    *,
    theme: str | None = None,
    river: str | bool | None = None,
    land_use: Mapping[str, float] | None = None,
) -> Layout:
    """Generate a complete scene in metres.

    Args:
        width: extent east-west, metres.
        height: extent north-south, metres.
        seed: integer seed or SeedSequence; the same seed gives the same layout.
        theme: a key of :data:`THEMES`; random when None.
        river: True/False to force/forbid a river, "ew"/"ns" to force its direction;
            None draws it (more likely in larger scenes and the "port" theme).
        land_use: overrides the theme's land-use weights.

    Returns:
        The layout, objects included.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    rng = np.random.default_rng(ss)
    theme = theme or str(rng.choice(sorted(THEMES)))
    weights = dict(land_use or THEMES[theme])
    size = min(width, height)

    if river is None:
        river = bool(rng.random() < (0.85 if theme == "port" else 0.45 + 0.25 * min(size / 1000.0, 1.0)))
    riv = make_river(rng, width, height, None if river is True else river) if river else None
    roads = make_roads(rng, width, height, theme, riv)
    deep, shallow = WATER[int(rng.integers(len(WATER)))]
    layout = Layout(
        width=width,
        height=height,
        seed=int(ss.generate_state(1)[0]),  # a fingerprint of the seed sequence
        objects=[],
        parcels=[],
        river=riv,
        roads=roads,
        water_rgb=(tuple(map(float, deep)), tuple(map(float, shallow))),  # type: ignore[arg-type]  # 3 floats each; mypy cannot count a map
        sun=(float(rng.uniform(110, 250)), float(rng.uniform(38, 68))),
        grading=Grading.random(rng),
        noise_key=int(rng.integers(1 << 30)),
    )
    if riv is not None:
        layout.add("river", Footprint("polygon", *_centre(riv.water), geom=riv.water), host=None)
    blocked = _crossings(rng, layout)
    layout.parcels = make_parcels(rng, width, height, weights, blocked)
    populate(rng, layout)
    return layout


def _centre(geom: BaseGeometry) -> tuple[float, float]:
    c = geom.centroid
    return float(c.x), float(c.y)


def make_river(rng: np.random.Generator, width: float, height: float, direction: str | None) -> River:
    """A meandering river that crosses the whole extent.

    The centreline is a smooth function across the river's axis, with meander
    slopes bounded so it never folds back: "north of the river" is then well defined.
    """
    size = min(width, height)
    if direction == "ew" or (direction is None and rng.random() < 0.4):
        angle = rng.uniform(-18, 18)
    elif direction == "ns" or (direction is None and rng.random() < 0.6):
        angle = 90 + rng.uniform(-18, 18)
    else:
        angle = float(rng.choice([45.0, -45.0])) + rng.uniform(-10, 10)
    a = math.radians(angle)
    axis = np.array([math.cos(a), math.sin(a)])
    normal = np.array([axis[1], -axis[0]])
    w = float(np.clip(rng.uniform(0.05, 0.11) * size, 12.0, 90.0) * rng.uniform(0.8, 1.25))
    spread = 0.12 if direction else 0.28
    centre = np.array([width, height]) / 2 + normal * rng.uniform(-spread, spread) * size
    half = 0.5 * math.hypot(width, height) + 2 * w + 2 * _MARGIN
    t = np.linspace(-half, half, int(np.clip(2 * half / max(w / 3, 2.0), 64, 600)))
    offset = np.zeros_like(t)
    slope_budget = 0.85
    for _ in range(3):
        lam = rng.uniform(6, 16) * w
        amp = rng.uniform(0.2, 1.0) * min(1.3 * w, slope_budget * lam / (2 * math.pi) / 3)
        offset += amp * np.sin(2 * math.pi * t / lam + rng.uniform(0, 2 * math.pi))
    line = centre + t[:, None] * axis + offset[:, None] * normal
    widths = w * (1 + 0.15 * np.sin(2 * math.pi * t / rng.uniform(8, 20) / w + rng.uniform(0, 6.3)))
    tangent = np.gradient(line, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    side = np.column_stack([tangent[:, 1], -tangent[:, 0]]) * (widths / 2)[:, None]
    water = shapely.make_valid(shapely.Polygon(np.vstack([line + side, (line - side)[::-1]]))).buffer(0)
    banks = water.buffer(rng.uniform(2.5, 9.0), quad_segs=4)
    return River(centreline=line, water=water, banks=banks, axis=(float(axis[0]), float(axis[1])))


def make_roads(rng: np.random.Generator, width: float, height: float, theme: str, river: River | None) -> list[Road]:
    """A few gently curved roads crossing the extent; urban themes favour a grid."""
    size = min(width, height)
    mean = {"rural": 0.8, "suburban": 2.0, "industrial": 1.8, "port": 1.5, "mixed": 1.8}[theme]
    n = int(rng.poisson(mean * max(size / 500.0, 0.5)))
    if river is not None and size > 300:
        n = max(n, 1)  # a road crossing the river gives a bridge
    roads: list[Road] = []
    for i in range(n):
        for _ in range(10):  # roads meet at clear angles or run well apart, never an acute X
            if theme != "rural" and rng.random() < 0.75:
                base = float(rng.choice([0.0, 90.0])) + rng.uniform(-6, 6)
            else:
                base = rng.uniform(0, 180)
            if i == 0 and river is not None:  # roughly across the river
                base = math.degrees(math.atan2(river.axis[1], river.axis[0])) + 90 + rng.uniform(-25, 25)
            a = math.radians(base)
            d = np.array([math.cos(a), math.sin(a)])
            p = np.array([rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height])
            half = math.hypot(width, height) / 2 + 3 * _MARGIN + abs(float(p @ d))
            t = np.linspace(-half, half, 24)
            bend = rng.uniform(-0.04, 0.04) * half * np.sin(np.pi * (t + half) / (2 * half))
            line = p + t[:, None] * d + bend[:, None] * np.array([-d[1], d[0]])
            if all(_compatible(line, r.centreline) for r in roads):
                break
        else:
            continue
        verge = tuple(map(float, shade(rng, "concrete", LAND))) if rng.random() < 0.6 else None
        rgb = tuple(map(float, shade(rng, "asphalt", LAND)))
        roads.append(Road(centreline=line, width=float(rng.uniform(6.5, 12.0)), rgb=rgb, verge=verge))  # type: ignore[arg-type]  # rgb and verge hold 3 floats; mypy cannot count them
    return roads


def _compatible(a: np.ndarray, b: np.ndarray) -> bool:
    """Two road centrelines either cross at 40 degrees or more, or stay 80 m apart."""
    da, db = a[-1] - a[0], b[-1] - b[0]
    cos = abs(float(da @ db)) / (np.linalg.norm(da) * np.linalg.norm(db))
    if cos <= math.cos(math.radians(40)):
        return True
    return shapely.LineString(a).distance(shapely.LineString(b)) >= 80.0


def _crossings(rng: np.random.Generator, layout: Layout) -> BaseGeometry:
    """Add bridges and roundabouts; return the union of land no parcel may use."""
    blocked: list[BaseGeometry] = []
    river = layout.river
    if river is not None:
        blocked.append(river.banks)
    for road in layout.roads:
        blocked.append(road.line.buffer(road.width / 2 + 1.5, cap_style="flat"))
        if river is None:
            continue
        crossing = road.line.intersection(river.banks)
        for seg in getattr(crossing, "geoms", [crossing]):
            if seg.is_empty or seg.length < 2:
                continue
            (x0, y0), (x1, y1) = seg.coords[0], seg.coords[-1]
            length = math.hypot(x1 - x0, y1 - y0) + 8.0
            fp = Footprint("box", (x0 + x1) / 2, (y0 + y1) / 2, length, road.width + 3.0, math.atan2(y1 - y0, x1 - x0))
            layout.add("bridge", fp, height=4.0, host="river")
    for i, r1 in enumerate(layout.roads):
        for r2 in layout.roads[i + 1 :]:
            hit = r1.line.intersection(r2.line)
            for p in getattr(hit, "geoms", [hit]):
                if p.is_empty or p.geom_type != "Point" or rng.random() > 0.6:
                    continue
                if river is not None and river.banks.buffer(30).contains(p):
                    continue
                radius = max(r1.width, r2.width) * rng.uniform(1.5, 2.4)
                fp = Footprint("circle", p.x, p.y, 2 * radius, 2 * radius)
                layout.add("roundabout", fp, style={"island": radius - max(r1.width, r2.width) * 0.9})
                blocked.append(fp.polygon.buffer(2.0))
    return shapely.union_all(blocked) if blocked else shapely.Polygon()


def make_parcels(
    rng: np.random.Generator, width: float, height: float, weights: Mapping[str, float], blocked: BaseGeometry
) -> list[Parcel]:
    """Voronoi land parcels over the extent, cut by roads and the river."""
    size = min(width, height)
    cell = float(np.clip(size / rng.uniform(2.2, 4.0), 60.0, 240.0))
    n = max(3, int(round((width + 2 * _MARGIN) * (height + 2 * _MARGIN) / cell**2)))
    pts = np.column_stack(
        [rng.uniform(-_MARGIN, width + _MARGIN, n), rng.uniform(-_MARGIN, height + _MARGIN, n)]
    )
    frame = shapely.box(-_MARGIN, -_MARGIN, width + _MARGIN, height + _MARGIN)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=frame)
    land = frame.difference(blocked) if not blocked.is_empty else frame
    uses = sorted(weights)
    p = np.asarray([weights[u] for u in uses], np.float64)
    parcels: list[Parcel] = []
    for cell_poly in cells.geoms:
        piece = cell_poly.intersection(land)
        for part in getattr(piece, "geoms", [piece]):
            if part.geom_type != "Polygon" or part.area < 150:
                continue
            use = uses[int(rng.choice(len(uses), p=p / p.sum()))]
            parcels.append(_parcel(rng, part, use))
    return parcels


def _parcel(rng: np.random.Generator, geom: BaseGeometry, use: str) -> Parcel:
    """Colour and field-row texture for one parcel."""
    table = "grass" if use == "sports" else use
    rgb = tuple(float(c) for c in shade(rng, table, LAND))
    stripes = (0.0, 1.0, 0.0)
    if use in ("crop", "ripe", "ploughed"):
        angle = parcel_angle(geom) + float(rng.choice([0.0, math.pi / 2]))
        period = rng.uniform(0.8, 2.2) if use == "ploughed" else rng.uniform(1.5, 4.0)
        if rng.random() < 0.25:  # tramlines seen from further away
            period = rng.uniform(10, 22)
        stripes = (angle, period, rng.uniform(0.05, 0.14))
    return Parcel(geom=geom, use=use, rgb=rgb, stripes=stripes)  # type: ignore[arg-type]  # rgb holds 3 floats; mypy cannot count it
