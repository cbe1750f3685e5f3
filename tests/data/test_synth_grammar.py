"""The expression grammar on a hand-built scene whose answers are known."""

from __future__ import annotations

import numpy as np

from geocrobim.data.synthetic.grammar import (
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
from geocrobim.data.synthetic.objects import Layout
from geocrobim.data.synthetic.phrases import realise

RED_A, BLUE_B, TANK, RED_C, HOUSE, SHIP = 1, 2, 3, 4, 5, 6


def table(layout: Layout) -> ObjectTable:
    return ObjectTable(layout, (0.0, 0.0, 200.0, 200.0), tol=2.0)


def test_attributes_and_river_side(layout: Layout) -> None:
    t = table(layout)
    assert Query(Filter("warehouse", colour="red")).evaluate(t) == [RED_A, RED_C]
    red_north = Query(Filter("warehouse", colour="red"), RiverSide("north"))
    assert red_north.evaluate(t) == [RED_A]
    assert red_north.check(t) == t.index(RED_A)
    assert Query(Filter("warehouse"), RiverSide("south")).evaluate(t) == [RED_C]
    # the river runs east-west: "east of the river" is no side of it
    assert Query(Filter("warehouse"), RiverSide("east")).evaluate(t) == []
    # a ship on the river is on neither bank
    assert Query(Filter("ship"), RiverSide("north")).evaluate(t) == []
    assert Query(Filter("ship"), OnWater("river")).evaluate(t) == [SHIP]


def test_ambiguous_queries_are_not_clear(layout: Layout) -> None:
    t = table(layout)
    assert Query(Filter("warehouse", colour="red")).check(t) is None
    assert Query(Filter("warehouse")).check(t) is None
    assert Query(Filter("house")).check(t) == t.index(HOUSE)


def test_regions(layout: Layout) -> None:
    t = table(layout)
    assert Query(Filter("warehouse"), Region("top left")).evaluate(t) == [RED_A]
    assert Query(Filter("warehouse"), Region("top right")).evaluate(t) == [BLUE_B]
    assert Query(Filter("warehouse"), Region("bottom")).evaluate(t) == [RED_C]
    assert Query(Filter("ship"), Region("centre")).evaluate(t) == [SHIP]


def test_ordinals(layout: Layout) -> None:
    t = table(layout)
    assert Query(Filter("warehouse"), None, Ordinal("size", 0, True)).evaluate(t) == [RED_C]
    assert Query(Filter("warehouse"), None, Ordinal("x", 0, True)).evaluate(t) == [BLUE_B]
    assert Query(Filter("warehouse"), None, Ordinal("y", 0, False)).check(t) is None  # A and B tie for topmost
    # "second from the left" needs three: of A and B alone there is none
    assert Query(Filter("warehouse"), RiverSide("north"), Ordinal("x", 1, False)).evaluate(t) == []
    # of A (x 60), C (x 60) and B (x 150) the second from the left ties with the first: no answer
    assert Query(Filter("warehouse"), None, Ordinal("x", 1, False)).evaluate(t) == []
    assert Query(Filter("warehouse"), None, Ordinal("x", 1, True)).evaluate(t) == []
    # a superlative of a single object is not one
    assert Query(Filter("house"), None, Ordinal("size", 0, True)).evaluate(t) == []


def test_relations(layout: Layout) -> None:
    t = table(layout)
    tank = Query(Filter("storage tank"))
    assert Query(Filter("warehouse"), Direction("south", Query(Filter("warehouse", colour="blue")))).evaluate(t) == []
    assert Query(Filter("warehouse"), Direction("west", Query(Filter("warehouse", colour="blue")))).evaluate(t) == [RED_A]
    assert Query(Filter("ship"), Direction("south", tank)).evaluate(t) == [SHIP]
    # B is due north of the house but 120 m away, beyond a small house's reach
    assert Query(Filter("warehouse"), Direction("north", Query(Filter("house")))).evaluate(t) == []
    assert sorted(Query(Filter("warehouse"), NextTo(tank)).evaluate(t)) == []  # 24 m gaps: not "next to" a 12 m tank
    between = Query(Filter("storage tank"), Between(Query(Filter("warehouse", colour="red"), None, Ordinal("y", 0, False)),
                                                    Query(Filter("warehouse", colour="blue"))))  # fmt: skip
    assert between.evaluate(t) == [TANK]
    across = Query(Filter("warehouse"), AcrossRiver(Query(Filter("house"))))
    assert across.evaluate(t) == [RED_A, BLUE_B]
    assert Query(Filter("warehouse", colour="red"), AcrossRiver(Query(Filter("house")))).evaluate(t) == [RED_A]


def test_next_to_counts_footprint_gaps(layout: Layout) -> None:
    from geocrobim.data.synthetic.shapes import Footprint

    layout.add("swimming pool", Footprint("box", 60, 55, 8, 4), form="rectangular", style={"rgb": [80.0, 180.0, 200.0]})
    t = table(layout)
    assert Query(Filter("swimming pool"), NextTo(Query(Filter("warehouse", colour="red"), RiverSide("north")))).evaluate(t) == [7]


def test_canonical_wording() -> None:
    q = Query(Filter("warehouse", colour="red"), RiverSide("north"))
    assert realise(q, None, canonical=True) == "the red-roofed warehouse north of the river"
    assert realise(Query(Filter("warehouse"), None, Ordinal("x", 1, False)), None) == "the second warehouse from the left"
    assert realise(Query(Filter("ship", size="small"), None, Ordinal("size", 0, True)), None) == "the largest boat"
    rng = np.random.default_rng(0)
    texts = {realise(q, rng) for _ in range(40)}
    assert len(texts) > 3 and all("red" in s and "river" in s for s in texts)


def test_every_names_all_the_members_when_there_are_two_or_more(layout: Layout) -> None:
    t = table(layout)
    reds = Query(Filter("warehouse", colour="red"), every=True)
    assert reds.check_all(t) == sorted([t.index(RED_A), t.index(RED_C)])
    assert reds.check_all(t, most=1) is None  # more members than allowed
    assert Query(Filter("house"), every=True).check_all(t) is None  # one house is no set
    assert Query(Filter("warehouse"), RiverSide("north"), every=True).check_all(t) == sorted([t.index(RED_A), t.index(BLUE_B)])
    # a rank names one object: never a set
    assert Query(Filter("warehouse"), None, Ordinal("size", 0, True)).check_all(t) is None
    assert realise(Query(Filter("storage tank"), RiverSide("north"), every=True), None) == "every storage tank north of the river"


def test_plurals() -> None:
    from geocrobim.data.synthetic.phrases import plural

    assert [plural(w) for w in ("warehouse", "lorry", "bus", "box", "church", "boat", "tank", "valley")] == [
        "warehouses", "lorries", "buses", "boxes", "churches", "boats", "tanks", "valleys"]  # fmt: skip
