"""Fixtures for the data tests: a hand-built scene whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geocrobim.data.synthetic.objects import Layout, River
from geocrobim.data.synthetic.palette import Grading
from geocrobim.data.synthetic.shapes import Footprint


def hand_layout() -> Layout:
    """A 200 m square scene: an east-west river at y = 100 m and six objects.

    North of the river (y < 100): red warehouse A (60, 40), blue warehouse B (150, 40),
    white storage tank T (100, 60). South: red warehouse C (60, 160, the largest),
    grey house H (150, 160), a ship S on the river.
    """
    line = np.array([[-50.0, 100.0], [250.0, 100.0]])
    water = shapely.box(-50, 90, 250, 110)
    river = River(centreline=line, water=water, banks=water.buffer(3), axis=(1.0, 0.0))
    layout = Layout(
        width=200.0, height=200.0, seed=0, objects=[], parcels=[], river=river, roads=[],
        water_rgb=((40.0, 60.0, 70.0), (70.0, 90.0, 90.0)), sun=(180.0, 50.0),
        grading=Grading(1.0, (1.0, 1.0, 1.0), 1.0, (0.0, 0.0, 0.0), 1.0, 0.0, 0.0), noise_key=5,
    )  # fmt: skip
    layout.add("river", Footprint("polygon", 100, 100, geom=water))
    style = {"rgb": [160.0, 60.0, 50.0], "roof": "gable"}
    layout.add("warehouse", Footprint("box", 60, 40, 30, 16), colour="red", size="small", form="rectangular", height=8, style=style)
    layout.add("warehouse", Footprint("box", 150, 40, 30, 16), colour="blue", size="small", form="rectangular", height=8, style=style)
    layout.add("storage tank", Footprint("circle", 100, 60, 12, 12), colour="white", size="small", form="round", height=8,
               style={"rgb": [230.0, 230.0, 228.0]})  # fmt: skip
    layout.add("warehouse", Footprint("box", 60, 160, 50, 24), colour="red", size="large", form="rectangular", height=8, style=style)
    layout.add("house", Footprint("box", 150, 160, 12, 9), colour="grey", size="small", form="rectangular", height=7, style=style)
    layout.add("ship", Footprint("hull", 120, 100, 12, 4, notch=(0.2, 0.0)), colour="white", size="small", host="river",
               style={"rgb": [230.0, 230.0, 230.0], "deck": [220.0, 220.0, 220.0]})  # fmt: skip
    return layout


@pytest.fixture()
def layout() -> Layout:
    return hand_layout()
