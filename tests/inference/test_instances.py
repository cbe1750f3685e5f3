"""Component scoring (fine x coarse support) and arbitration, block by block."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from geocrobim.inference.instances import arbitrate, best_component, coarse_means, fine_means
from geocrobim.vector import PolygonTable, polygonize

TRANSFORM = Affine(0.5, 0.0, 480_000.0, 0.0, -0.5, 5_120_000.0)


def pixel_box(row: int, col: int, height: int, width: int) -> shapely.Polygon:
    x0, y0 = TRANSFORM @ (col, row)
    x1, y1 = TRANSFORM @ (col + width, row + height)
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def test_fine_means_average_the_probability_inside_each_component(geotiff):
    probs = np.zeros((2, 300, 260), dtype=np.uint8)
    probs[0, 10:40, 10:50] = 200
    probs[0, 10:20, 10:50] = 255  # a third of the component is brighter
    probs[0, 250:290, 200:250] = 130  # crosses the 128 px block border used below
    probs[1, 100:110, 100:110] = 160
    path = geotiff(probs, name="prob.tif", block=64)
    layers = [polygonize(path, band=b, threshold=0.5, workers=1).geometry.values for b in (1, 2)]
    assert [len(g) for g in layers] == [2, 1]
    means = fine_means(path, layers, block_size=128)
    order = np.argsort([g.centroid.y for g in layers[0]])[::-1]  # top of the image first
    assert means[0][order[0]] == pytest.approx((255 * 10 + 200 * 20) / 30 / 255)
    assert means[0][order[1]] == pytest.approx(130 / 255)
    assert means[1][0] == pytest.approx(160 / 255)
    assert fine_means(path, [np.array([]), np.array([])]) == [pytest.approx([]), pytest.approx([])]


def test_coarse_means_give_even_tiny_components_support():
    coarse = np.zeros((10, 10), dtype=np.float32)
    coarse[2, 3] = 0.8
    coarse[7, 7] = 0.4
    transform = TRANSFORM @ Affine.scale(8)  # one coarse pixel = 8 x 8 source pixels
    geoms = np.array([pixel_box(2 * 8 + 3, 3 * 8 + 2, 2, 2), pixel_box(7 * 8, 7 * 8, 16, 8)], dtype=object)
    means = coarse_means(geoms, coarse, transform)
    assert means[0] == pytest.approx(0.8)  # a 2 x 2 px component inside one coarse pixel
    assert 0.0 < means[1] < 0.4  # spans (7, 7) and the empty pixel below (and touched edges)
    assert coarse_means(np.array([], dtype=object), coarse, transform).shape == (0,)


def test_arbitrate_ranks_and_keeps_the_best_or_all():
    boxes = np.array([pixel_box(0, 0, 1, 1), pixel_box(5, 5, 1, 1), pixel_box(9, 9, 1, 1), pixel_box(3, 3, 1, 1)])
    table = PolygonTable(
        boxes, {"score": np.array([0.2, 0.9, 0.5, 0.5]), "area_m2": np.array([1.0, 2.0, 3.0, 4.0])}, CRS(32633)
    )
    best = arbitrate(table, "best")
    assert len(best) == 1 and best.columns["score"].tolist() == [0.9] and best.columns["rank"].tolist() == [1]
    assert best.geometries[0].equals(boxes[1]) and best.crs == CRS(32633)
    every = arbitrate(table, "all")
    assert list(every.columns) == ["rank", "score", "area_m2"]  # rank first, attributes follow their rows
    assert every.columns["score"].tolist() == [0.9, 0.5, 0.5, 0.2] and every.columns["rank"].tolist() == [1, 2, 3, 4]
    assert every.columns["area_m2"].tolist() == [2.0, 3.0, 4.0, 1.0]  # equal scores keep their order
    assert [g.equals(b) for g, b in zip(every.geometries, boxes[[1, 2, 3, 0]], strict=True)] == [True] * 4
    assert len(arbitrate(table.take(np.array([], dtype=int)), "best")) == 0


def test_arbitrate_puts_components_without_a_score_last():
    table = PolygonTable(np.array([pixel_box(0, 0, 1, 1), pixel_box(5, 5, 1, 1)]), {"score": np.array([np.nan, 0.1])})
    assert arbitrate(table, "best").columns["score"].tolist() == [0.1]


def test_equal_scores_are_ranked_by_the_fine_probability():
    # Three components too small for the coarse view: the calibrated score is the same floor for all.
    boxes = np.array([pixel_box(0, 0, 1, 1), pixel_box(5, 5, 1, 1), pixel_box(9, 9, 1, 1), pixel_box(3, 3, 1, 1)])
    columns = {"score": np.array([0.006, 0.006, 0.3, 0.006]), "fine_prob": np.array([0.6, 0.9, 0.5, 0.9])}
    every = arbitrate(PolygonTable(boxes, columns), "all")
    assert every.columns["score"].tolist() == [0.3, 0.006, 0.006, 0.006]  # the score still comes first
    assert every.columns["fine_prob"].tolist() == [0.5, 0.9, 0.9, 0.6]  # then the surer fine pass; equal: as found
    assert every.geometries[1].equals(boxes[1]) and every.geometries[2].equals(boxes[3])


def test_best_component_keeps_the_likeliest_4_connected_piece():
    prob = np.zeros((40, 50))
    prob[2:12, 2:20] = 0.8  # large, fairly sure
    prob[20:26, 30:36] = 0.95  # small, surest: kept
    prob[26, 36] = 0.6  # touches it only at a corner: its own component (4-connectivity)
    prob[30:34, 5:9] = 0.5  # at the threshold: background
    kept = best_component(prob)
    assert kept.dtype == bool and kept.sum() == 36 and kept[20:26, 30:36].all()
    corner = prob.copy()
    corner[26, 36] = 0.99
    assert np.argwhere(best_component(corner)).tolist() == [[26, 36]]  # the engine keeps a sure speck too
    only = np.where(prob == 0.8, 0.8, 0.0)
    assert np.array_equal(best_component(only), only > 0.5)
    assert not best_component(np.full((8, 8), 0.2)).any()
    holed = np.zeros((20, 20))
    holed[2:18, 2:18] = 0.9
    holed[8:12, 8:12] = 0.1  # a hole stays a hole; an island in it is another component
    holed[9:11, 9:11] = 0.99
    kept = best_component(holed, threshold=0.5)
    assert kept.sum() == 4 and kept[9:11, 9:11].all()


def _chip_with_four_blobs() -> np.ndarray:
    """A 120 px chip: three candidates of different size and place, and a faint speck at the far right."""
    prob = np.zeros((120, 120))
    prob[80:90, 5:15] = 0.9  # left, bottom, 10 x 10
    prob[10:30, 50:70] = 0.8  # middle, top, 20 x 20 (the largest)
    prob[60:75, 90:105] = 0.7  # right, middle row, 15 x 15
    prob[50:52, 116:118] = 0.55  # a speck further east: too small to be "the rightmost"
    return prob


@pytest.mark.parametrize(
    ("sentence", "rows", "cols"),
    [
        ("the rightmost tank", slice(60, 75), slice(90, 105)),
        ("the second tank from the left", slice(10, 30), slice(50, 70)),
        ("the northernmost tank", slice(10, 30), slice(50, 70)),
        ("the bottom-most tank", slice(80, 90), slice(5, 15)),
        ("the largest tank", slice(10, 30), slice(50, 70)),
        ("the smallest tank", slice(80, 90), slice(5, 15)),
        ("the tank on the left side of the image", slice(80, 90), slice(5, 15)),
        ("the tank at the top of the image", slice(10, 30), slice(50, 70)),
    ],
)
def test_a_chip_is_read_as_a_scene_by_the_engines_rule(sentence, rows, cols):
    from geocrobim.inference.instances import chip_scene_wide
    from geocrobim.inference.scene_words import read_scene_words

    expected = np.zeros((120, 120), dtype=bool)
    expected[rows, cols] = True
    picked = chip_scene_wide(_chip_with_four_blobs(), read_scene_words(sentence))
    assert picked.dtype == bool and np.array_equal(picked, expected), sentence


def test_a_chip_without_the_asked_candidate_gives_an_empty_mask():
    from geocrobim.inference.instances import chip_scene_wide
    from geocrobim.inference.scene_words import read_scene_words

    prob = _chip_with_four_blobs()
    assert not chip_scene_wide(prob, read_scene_words("the fourth tank from the left")).any()
    assert not chip_scene_wide(np.full((64, 64), 0.2), read_scene_words("the largest tank")).any()
