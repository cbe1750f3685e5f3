"""Small factories shared by the builders: colours, trees, vehicles."""

from __future__ import annotations

import numpy as np
import shapely

from geocrobim.data.synthetic.objects import Layout
from geocrobim.data.synthetic.palette import pick_colour, shade
from geocrobim.data.synthetic.placement import Occupancy, Region
from geocrobim.data.synthetic.shapes import Footprint

TREE_GREENS = ((46, 72, 40), (58, 84, 46), (40, 62, 38), (66, 90, 52))


def add_colour(rng: np.random.Generator, category: str, colour: str | None = None) -> tuple[str, list[float]]:
    """A colour name for the category and the rgb shade that paints it."""
    colour = colour or pick_colour(rng, category)
    return colour, [float(c) for c in shade(rng, colour)]


def trees(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy, count: int) -> None:
    """Scatter trees (not referable) clear of the objects placed so far.

    Trees may overlap each other (clumps) but never an object, so no target is hidden.
    """
    if count <= 0:
        return
    x0, y0, x1, y1 = region.bounds
    xs, ys = rng.uniform(x0, x1, count), rng.uniform(y0, y1, count)
    radii = rng.uniform(1.8, 5.0, count)
    inside = shapely.contains_xy(region.geom, xs, ys)
    for x, y, r in zip(xs[inside], ys[inside], radii[inside], strict=True):
        if occ.free(shapely.Point(x, y), r + 0.5):
            rgb = TREE_GREENS[int(rng.integers(len(TREE_GREENS)))]
            fp = Footprint("circle", float(x), float(y), 2 * float(r), 2 * float(r))
            layout.add("tree", fp, height=float(rng.uniform(1.6, 3.2) * r), style={"rgb": list(rgb)})


def vehicle_footprint(rng: np.random.Generator, x: float, y: float, angle: float) -> tuple[Footprint, str]:
    """A car (small) or a truck (large) centred at (x, y)."""
    if rng.random() < 0.15:
        return Footprint("box", x, y, float(rng.uniform(8.5, 16.0)), float(rng.uniform(2.4, 2.6)), angle), "large"
    return Footprint("box", x, y, float(rng.uniform(4.2, 4.9)), float(rng.uniform(1.75, 1.95)), angle), "small"


def add_vehicle(rng: np.random.Generator, layout: Layout, fp: Footprint, size: str, host: str) -> None:
    """Add a vehicle object with a colour and a body style."""
    colour, rgb = add_colour(rng, "vehicle")
    style = {"rgb": rgb, "cab": [float(c) for c in shade(rng, "white")] if size == "large" else None}
    layout.add("vehicle", fp, colour=colour, size=size, height=1.5 if size == "small" else 3.5, host=host, style=style)
