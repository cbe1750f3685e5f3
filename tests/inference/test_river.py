"""The river's course, fitted on a probability map, and which bank a point lies on."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine

from geocrobim.inference.river import RiverCourse

# 2 m pixels at a UTM origin (EPSG:32633-like coordinates), north up: x east, y north.
TRANSFORM = Affine(2.0, 0.0, 390_000.0, 0.0, -2.0, 5_820_000.0)
SHAPE = (200, 300)


def river_map(centre_row, width: float = 12.0, shape=SHAPE) -> np.ndarray:
    """A probability map with a river whose centre row is ``centre_row(col)`` (any shape of course)."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return (np.abs(rows - centre_row(cols)) < width / 2).astype(np.float32) * 0.9


def to_map(rows, cols, transform=TRANSFORM):
    x, y = transform @ (np.asarray(cols, dtype=float) + 0.5, np.asarray(rows, dtype=float) + 0.5)
    return np.asarray(x), np.asarray(y)


def test_a_meandering_river_splits_points_by_its_own_course_not_a_straight_line():
    # A west-east river meandering 40 rows up and down: a straight line through it would put
    # the points just north of a southern loop on the wrong side.
    course = RiverCourse.from_probabilities(river_map(lambda c: 100 + 40 * np.sin(c / 300 * 2 * np.pi)), TRANSFORM)
    assert course is not None and course.describe() == "runs west-east"
    # Rows grow southwards: at column 75 the river bends south (row 140), at column 225 north (row 60).
    rows = np.array([125, 155, 45, 75])
    cols = np.array([75, 75, 225, 225])
    x, y = to_map(rows, cols)
    assert course.on_bank(x, y, "north").tolist() == [True, False, True, False]
    assert course.on_bank(x, y, "south").tolist() == [False, True, False, True]
    assert course.on_bank(x, y, "east") is None and course.sign_towards("west") is None  # no east bank on a west-east river


def test_a_north_south_river_has_east_and_west_banks():
    prob = np.zeros(SHAPE, dtype=np.float32)
    prob[:, 140:152] = 0.8  # a straight river down columns 140-151
    course = RiverCourse.from_probabilities(prob, TRANSFORM)
    assert course is not None and course.describe() == "runs north-south"
    x, y = to_map([100, 100], [40, 250])
    assert course.on_bank(x, y, "west").tolist() == [True, False]
    assert course.on_bank(x, y, "east").tolist() == [False, True]
    assert course.on_bank(x, y, "north") is None


@pytest.mark.parametrize(("degrees", "named"), [(30.0, True), (45.0, False)])
def test_a_compass_word_names_a_bank_only_within_35_degrees_of_the_river_normal(degrees, named):
    slope = math.tan(math.radians(degrees))
    course = RiverCourse.from_probabilities(river_map(lambda c: 180 - slope * (c - 20), shape=(300, 300)), TRANSFORM)
    assert course is not None
    x, y = to_map([20, 290], [150, 150])  # far above and far below the line at column 150
    north = course.on_bank(x, y, "north")
    assert (north is not None) == named
    if named:
        assert north.tolist() == [True, False]


def test_a_rotated_grid_is_measured_in_map_coordinates():
    # The same west-east river on a grid rotated by 90 degrees: its columns now run north.
    rotated = TRANSFORM @ Affine.rotation(90)
    prob = np.zeros(SHAPE, dtype=np.float32)
    prob[:, 140:152] = 0.8  # a band of columns: on this grid, a river running west-east
    course = RiverCourse.from_probabilities(prob, rotated)
    assert course is not None and course.describe() == "runs west-east"
    x, y = to_map([100, 100], [40, 250], rotated)
    north = course.on_bank(x, y, "north")
    assert north is not None and north.tolist() == [y[0] > y[1], y[1] > y[0]]


def test_no_river_a_lake_or_specks_give_no_course():
    assert RiverCourse.from_probabilities(np.zeros(SHAPE, dtype=np.float32), TRANSFORM) is None
    rows, cols = np.mgrid[: SHAPE[0], : SHAPE[1]]
    lake = (np.hypot(rows - 100, cols - 150) < 40).astype(np.float32)
    assert RiverCourse.from_probabilities(lake, TRANSFORM) is None  # a blob has no direction
    specks = np.zeros(SHAPE, dtype=np.float32)
    specks[::50, ::50] = 1.0
    assert RiverCourse.from_probabilities(specks, TRANSFORM) is None
    faint = river_map(lambda c: 100 + 0 * c) * 0.5  # 0.45: under the river threshold
    assert RiverCourse.from_probabilities(faint, TRANSFORM) is None


def test_a_false_alarm_away_from_the_river_does_not_bend_its_course():
    prob = river_map(lambda c: 100 + 0 * c)
    prob[10:25, 200:220] = 0.9  # a blue roof in the north, lit as "river" (300 px; the river: 3,600)
    course = RiverCourse.from_probabilities(prob, TRANSFORM)
    assert course is not None
    x, y = to_map([90, 112], [210, 210])  # just north and just south of the river, below the false alarm
    assert course.on_bank(x, y, "north").tolist() == [True, False]
