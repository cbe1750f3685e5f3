"""Fill a layout's parcels, water and roads with objects.

Each land use has a builder: industrial yards get warehouses, tank farms and
parking; residential lots get houses, pools and trees; sports parcels get courts.
Objects come in groups of the same class (a row of warehouses, a tank farm, a pair of
courts), so every class present has distractors. Sizes are drawn from discrete modes
("small" / "large") so size words are never borderline.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from geocrobim.data.synthetic.makers import add_colour, add_vehicle, vehicle_footprint
from geocrobim.data.synthetic.objects import Layout
from geocrobim.data.synthetic.palette import NAMED
from geocrobim.data.synthetic.parcels import BUILDERS
from geocrobim.data.synthetic.placement import Occupancy, Region, parcel_angle, reserve
from geocrobim.data.synthetic.shapes import Footprint


def populate(rng: np.random.Generator, layout: Layout) -> None:
    """Add every object of the scene to ``layout`` (parcels, river and roads exist)."""
    occ = Occupancy()
    for obj in layout.objects:
        if obj.category in ("bridge", "roundabout"):
            occ.add(obj.footprint.polygon)
    for parcel in layout.parcels:
        region = Region(parcel.geom.buffer(-2.0), parcel_angle(parcel.geom))
        builder = BUILDERS.get(parcel.use)
        if builder is not None and not region.geom.is_empty:
            builder(rng, layout, region, occ)
    ships(rng, layout, occ)
    road_vehicles(rng, layout)


def road_vehicles(rng: np.random.Generator, layout: Layout) -> None:
    """Cars and trucks driving along the roads (and over bridges)."""
    density = rng.uniform(0.3, 2.2)  # vehicles per 100 m of road
    extent = shapely.box(-20, -20, layout.width + 20, layout.height + 20)
    decks = [o for o in layout.objects if o.category == "bridge"]
    rounds = [o.footprint.polygon for o in layout.objects if o.category == "roundabout"]
    water = layout.river.water if layout.river is not None else None
    occ = Occupancy()
    for road in layout.roads:
        line = road.line.intersection(extent)
        if line.is_empty or line.length < 10:
            continue
        for _ in range(int(rng.poisson(line.length / 100 * density))):
            d = float(rng.uniform(0, line.length))
            p, q = line.interpolate(d), line.interpolate(min(d + 1.0, line.length))
            angle = math.atan2(q.y - p.y, q.x - p.x)
            lane = 1 if rng.random() < 0.5 else -1
            off = lane * road.width / 4
            x, y = p.x - math.sin(angle) * off, p.y + math.cos(angle) * off
            fp, size = vehicle_footprint(rng, x, y, angle + (math.pi if lane < 0 else 0.0))
            poly = fp.polygon
            if any(r.intersects(poly) for r in rounds) or not occ.free(poly, 1.5):
                continue
            host = next((b for b in decks if b.footprint.polygon.contains(poly)), None)
            if host is None and water is not None and water.intersects(poly):
                continue
            occ.add(poly)
            add_vehicle(rng, layout, fp, size, "bridge" if host is not None else "road")


def ships(rng: np.random.Generator, layout: Layout, occ: Occupancy) -> None:
    """Ships and boats on the river and the lakes, aligned with the flow."""
    waters: list[tuple[str, Any, Any]] = []  # (host, water polygon, centreline or None)
    if layout.river is not None:
        waters.append(("river", layout.river.water, layout.river.centreline))
    waters += [("lake", o.footprint.polygon, None) for o in layout.objects if o.category == "lake"]
    view = shapely.box(0, 0, layout.width, layout.height)
    for host, water, line in waters:
        inside = water.intersection(view)
        if inside.is_empty:
            continue
        region = Region(water.buffer(-1.5), 0.0)
        narrow = 2 * inside.area / max(inside.length, 1.0)  # ~ mean width
        n = int(rng.poisson(inside.area / 6000)) + int(rng.integers(1, 4))
        for _ in range(min(n, 14)):
            large = narrow > 28 and rng.random() < 0.4
            length = float(rng.uniform(35, min(85, 2.5 * narrow)) if large else rng.uniform(7, 16))
            beam = length * float(rng.uniform(0.14, 0.18) if large else rng.uniform(0.3, 0.38))
            for _ in range(15):
                x, y = _water_point(rng, region, line, view, narrow)
                angle = _flow_angle(line, x, y) if line is not None else float(rng.uniform(0, 2 * math.pi))
                angle += math.pi if rng.random() < 0.5 else 0.0
                fp = Footprint("hull", x, y, length, beam, angle, notch=(float(rng.uniform(0.15, 0.3)), 0.0))
                if reserve(region, occ, fp, gap=3.0):
                    break
            else:
                continue
            colour, rgb = add_colour(rng, "ship")
            deck = [float(c) for c in NAMED["white"][int(rng.integers(4))]] if colour != "white" else rgb
            style = {"rgb": rgb, "deck": deck, "wake": bool(rng.random() < 0.45), "cabin": float(rng.uniform(0.2, 0.35))}
            layout.add("ship", fp, colour=colour, size="large" if large else "small", height=length * 0.08, host=host, style=style)


def _water_point(
    rng: np.random.Generator, region: Region, line: np.ndarray | None, view: shapely.Polygon, width: float
) -> tuple[float, float]:
    """A candidate centre: near the river's centreline inside the view, or anywhere on a lake."""
    if line is None:
        return region.random_point(rng)
    x0, y0, x1, y1 = view.bounds
    inside = np.flatnonzero((line[:, 0] >= x0) & (line[:, 0] <= x1) & (line[:, 1] >= y0) & (line[:, 1] <= y1))
    i = int(rng.choice(inside)) if inside.size else int(rng.integers(len(line)))
    return float(line[i, 0] + rng.uniform(-0.4, 0.4) * width), float(line[i, 1] + rng.uniform(-0.4, 0.4) * width)


def _flow_angle(line: np.ndarray, x: float, y: float) -> float:
    """Direction of the river centreline nearest (x, y)."""
    i = int(np.argmin(np.hypot(line[:, 0] - x, line[:, 1] - y)))
    j = min(i + 1, len(line) - 1)
    i = j - 1
    return math.atan2(line[j, 1] - line[i, 1], line[j, 0] - line[i, 0])
