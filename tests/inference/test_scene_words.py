"""Scene-wide words: split off the sentence, resolved over the scene's components."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from geocrobim.inference.instances import pick_scene_wide
from geocrobim.inference.scene_words import SceneRank, read_scene_words
from geocrobim.vector import PolygonTable

# 0.5 m pixels, a UTM origin: the scene is 400 x 300 px (200 m x 150 m).
TRANSFORM = Affine(0.5, 0.0, 480_000.0, 0.0, -0.5, 5_120_000.0)
SHAPE = (300, 400)


@pytest.mark.parametrize(
    ("sentence", "model_text", "rank", "region"),
    [
        ("the rightmost swimming pool which lies on the west side of the river",
         "every swimming pool which lies on the west side of the river", SceneRank("x", 0, True), None),
        ("the second small grey ship from the right", "every small grey ship", SceneRank("x", 1, True), None),
        ("The second largest storage tank", "every storage tank", SceneRank("size", 1, True), None),
        ("the smallest little warehouse with a green roof", "every little warehouse with a green roof", SceneRank("size", 0, False), None),
        ("the northernmost small grey tank", "every small grey tank", SceneRank("y", 0, True), None),
        ("the bottom-most car", "every car", SceneRank("y", 0, False), None),
        ("the third house from the top", "every house", SceneRank("y", 2, True), None),
        ("the pond located in the left part of the image", "every pond", None, ("left", None)),
        ("the tank in the top left corner", "every tank", None, ("left", "top")),
        ("the red car, at the lower-right of the scene.", "every red car", None, ("right", "bottom")),
        ("the lake in the middle of the image", "every lake", None, ("centre", "centre")),
        ("the car on the left", "every car", None, ("left", None)),
        ("the easternmost ship in the upper part of the image", "every ship", SceneRank("x", 0, True), (None, "top")),
    ],
)  # fmt: skip
def test_scene_wide_words_are_split_off(sentence, model_text, rank, region):
    words = read_scene_words(sentence)
    assert (words.model_text, words.rank, words.region) == (model_text, rank, region)
    assert words.scene_wide and words.expression == sentence


@pytest.mark.parametrize(
    ("sentence", "model_text", "bank"),
    [
        ("the red-roofed warehouse north of the river", "the red-roofed warehouse north of the river", "north"),
        ("The large blue industrial building which lies to the north of the river",
         "The large blue industrial building which lies to the north of the river", "north"),
        ("the pond that is on the south side of the river", "the pond that is on the south side of the river", "south"),
        ("the smallest little warehouse with a green roof on the eastern bank of the river",
         "every little warehouse with a green roof on the eastern bank of the river", "east"),
        ("the rightmost swimming pool which lies on the west side of the river",
         "every swimming pool which lies on the west side of the river", "west"),
        ("the house located west of the river in the top left corner", "every house located west of the river", "west"),
    ],
)  # fmt: skip
def test_the_bank_of_the_river_is_read_for_the_engine_and_left_in_the_sentence(sentence, model_text, bank):
    words = read_scene_words(sentence)
    assert (words.model_text, words.bank) == (model_text, bank) and words.scene_wide
    assert f"{bank} of the river" in words.describe()
    alone = read_scene_words(sentence, banks=False)
    assert alone.bank is None and alone.model_text == model_text


@pytest.mark.parametrize(
    "sentence",
    [
        "the ship on the river",  # on the water, not a bank
        "the bridge across the river from the white tank",
        "the house on the left side of the road",  # the road's left, not the image's
        "the house on the left bank of the river",
        "the house north-east of the river",  # a compound names no one bank
        "the tank on the south-western bank of the river",
        "the largest",  # nothing left to look for
        "the lowest-lying field",  # "lowest" inside a compound word
        "the first house",  # an ordinal without a side or a superlative
    ],
)
def test_other_sentences_go_to_the_model_whole(sentence):
    words = read_scene_words(sentence)
    assert not words.scene_wide and words.model_text == sentence and words.rank is None and words.region is None


def box(col: int, row: int, size: int) -> shapely.Polygon:
    """A square of ``size`` px whose top-left pixel is (col, row), in map coordinates."""
    x0, y0 = TRANSFORM @ (col, row)
    x1, y1 = TRANSFORM @ (col + size, row + size)
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def table(boxes: list[shapely.Polygon], scores: list[float]) -> PolygonTable:
    geoms = np.array(boxes, dtype=object)
    columns = {"score": np.array(scores), "area_m2": shapely.area(geoms).astype(np.float64)}
    return PolygonTable(geoms, columns, CRS.from_epsg(32633))


# Three candidates: west (24 px), centre (40 px, the largest), north-east (30 px); and two that are
# none: a faint one in the far south-west (under 0.3 of the best score) and a bright speck in the
# far east (under a quarter of the largest candidate's area).
CANDIDATES = [box(20, 200, 24), box(180, 140, 40), box(300, 20, 30), box(2, 270, 24), box(392, 150, 3)]
SCORES = [0.8, 0.9, 0.7, 0.1, 0.85]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("the rightmost tank", 2),  # the speck further east is no candidate
        ("the leftmost tank", 0),  # nor the faint one further west
        ("the second tank from the left", 1),
        ("the northernmost tank", 2),
        ("the southernmost tank", 0),
        ("the largest tank", 1),
        ("the second largest tank", 2),
        ("the smallest tank", 0),
        ("the tank on the right side of the image", 2),
        ("the tank in the centre of the image", 1),
        ("the tank in the bottom left corner", 0),
    ],
)
def test_the_named_candidate_is_picked_over_the_whole_scene(sentence, expected):
    components = table(CANDIDATES, SCORES)
    kept, what = pick_scene_wide(components, read_scene_words(sentence), TRANSFORM, SHAPE, "best")
    assert len(kept) == 1 and kept.geometries[0].equals(CANDIDATES[expected])
    assert kept.columns["rank"].tolist() == [1] and kept.columns["score"][0] == SCORES[expected]
    assert "candidate(s) of 'every tank'" in what and ("3 candidate(s)" in what or words_name_a_region(sentence))


def words_name_a_region(sentence: str) -> bool:
    return read_scene_words(sentence).region is not None


def test_all_instances_put_the_pick_first_then_the_other_candidates_by_score():
    kept, _ = pick_scene_wide(table(CANDIDATES, SCORES), read_scene_words("the rightmost tank"), TRANSFORM, SHAPE, "all")
    assert [g.centroid.x for g in kept.geometries] == [CANDIDATES[i].centroid.x for i in (2, 1, 0)]
    assert kept.columns["rank"].tolist() == [1, 2, 3]


def test_no_candidate_at_the_asked_position_keeps_nothing():
    kept, what = pick_scene_wide(
        table(CANDIDATES[:2], SCORES[:2]), read_scene_words("the third tank from the left"), TRANSFORM, SHAPE, "best"
    )
    assert len(kept) == 0 and "2 candidate(s)" in what
    empty, _ = pick_scene_wide(table([], []), read_scene_words("the largest tank"), TRANSFORM, SHAPE, "best")
    assert len(empty) == 0
