"""Staged scenes: layouts arranged so that a chosen expression holds.

The "sample" preset is the README's demo: an east-west river through the scene,
industry on both banks, and exactly one red-roofed warehouse north of the river;
other warehouses north of it have other roof colours, and red-roofed warehouses
stand south of it, so neither "red-roofed" nor "north of the river" alone is enough.
"""

from __future__ import annotations

import numpy as np

from geocrobim.data.synthetic.chips import tolerance
from geocrobim.data.synthetic.grammar import Filter, ObjectTable, Query, RiverSide
from geocrobim.data.synthetic.layout import generate_layout
from geocrobim.data.synthetic.objects import Layout, SceneObject
from geocrobim.data.synthetic.palette import pick_colour, shade
from geocrobim.data.synthetic.phrases import realise
from geocrobim.data.synthetic.referents import Referent

SAMPLE_EXPRESSION = "the red-roofed warehouse north of the river"
SAMPLE_QUERY = Query(Filter("warehouse", colour="red"), RiverSide("north"))
SAMPLE_LAND_USE = {"yard": 3.0, "lawn": 1.6, "sports": 0.5, "grass": 0.8, "crop": 0.6, "ripe": 0.3, "forest": 0.7}


def _recolour(rng: np.random.Generator, obj: SceneObject, colour: str) -> None:
    obj.colour = colour
    obj.style["rgb"] = [float(c) for c in shade(rng, colour)]


def sample_layout(seed: int, extent: float, *, gsd: float = 0.5, attempts: int = 40) -> tuple[Layout, Referent]:
    """The README scene and its fixed referent.

    Args:
        seed: base seed.
        extent: side of the square scene in metres.
        gsd: the GSD the scene will be rendered at (sets the check's tolerance).
        attempts: layouts tried before giving up.

    Returns:
        (layout, referent for :data:`SAMPLE_EXPRESSION`).
    """
    for attempt in range(attempts):
        ss = np.random.SeedSequence([seed, attempt, 2024])
        layout = generate_layout(extent, extent, ss, theme="mixed", river="ew", land_use=SAMPLE_LAND_USE)
        rng = np.random.default_rng(ss.spawn(1)[0])
        table = ObjectTable(layout, (0.0, 0.0, extent, extent), tolerance(gsd))
        warehouses = np.flatnonzero(table.category == "warehouse")
        north_m, south_m = RiverSide("north").margins(table), RiverSide("south").margins(table)
        north = [i for i in warehouses if north_m[i] > -2]  # every one that could pass for "north"
        south = [i for i in warehouses if south_m[i] >= 2]
        big_north = [i for i in north if north_m[i] >= 2 and table.area[i] >= 500 and _inside(table, int(i), extent, 0.08)]
        if len(north) < 3 or len(south) < 2 or not big_north:
            continue
        target = big_north[int(rng.integers(len(big_north)))]
        for i in north:
            if i != target and table.objects[i].colour == "red":
                _recolour(rng, table.objects[i], pick_colour(rng, "warehouse", exclude=("red",)))
        _recolour(rng, table.objects[target], "red")
        reds = [i for i in south if table.objects[i].colour == "red"]
        for i in rng.permutation(south)[: max(0, 2 - len(reds))]:
            _recolour(rng, table.objects[i], "red")
        table = ObjectTable(layout, (0.0, 0.0, extent, extent), tolerance(gsd))
        if SAMPLE_QUERY.check(table) == target:
            text = realise(SAMPLE_QUERY, None, canonical=True)
            return layout, Referent(text, SAMPLE_QUERY, int(table.ids[target]), "warehouse")
    raise RuntimeError(f"no sample layout found for seed {seed} in {attempts} attempts; try another seed")


def _inside(t: ObjectTable, row: int, extent: float, margin: float) -> bool:
    """True if the object's bbox keeps ``margin`` (fraction of the extent) from the scene's edges."""
    x0, y0, x1, y1 = t.objects[row].footprint.bounds
    m = margin * extent
    return x0 >= m and y0 >= m and x1 <= extent - m and y1 <= extent - m
