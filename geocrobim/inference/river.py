"""Which bank of the river a point lies on: "the green house north of the river", resolved on the scene.

A window reads a few hundred metres, so for most windows "north of the river" names a river it
cannot see, and the model lights look-alikes on both banks (docs/grounding.md, "Where the misses
are"). The river itself is large: the model, asked for "the river" on the coarse view of the whole
scene, finds it. This module turns that probability map into the river's course and tells, for
any point of the scene, on which side of it the point lies. It uses the same definition as the
synthetic generator (:meth:`geocrobim.data.synthetic.objects.River.side`): the river's overall
direction is an axis; the centreline is the river's offset across that axis as a function of the
distance along it; a point is on the side its own offset is on; and a compass word only names a
bank when the river runs within 55 degrees of perpendicular to it (a river flowing north has no
"north bank").

No torch here: the map is a numpy array on the coarse grid, points are map coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.geometry
from affine import Affine
from rasterio import features

#: What the model is asked to find the river.
RIVER_TEXT = "the river"
#: River pixels: the coarse probability of "the river" at least this.
RIVER_THRESHOLD = 0.5
#: Fewer river pixels than this on the coarse grid is no river (a 512 px view of a scene
#: with a 20 m river at 2 m holds thousands).
MIN_RIVER_PIXELS = 64
#: Connected pieces under this share of the largest piece are dropped as false alarms (a
#: pond, a blue roof); a river cut by a bridge or two keeps its pieces.
MIN_PIECE_SHARE = 0.2
#: A river is long: the spread along its axis at least this many times the spread across it
#: (a lake's blob gives no direction).
MIN_ELONGATION = 2.0
#: A compass word names a bank when the river's normal is within this many degrees of it:
#: the synthetic generator's rule (RiverSide: 35 degrees).
MAX_BANK_ANGLE_DEG = 35.0
#: Compass directions as map vectors (x east, y north).
COMPASS = {"north": (0.0, 1.0), "south": (0.0, -1.0), "east": (1.0, 0.0), "west": (-1.0, 0.0)}


@dataclass(frozen=True)
class RiverCourse:
    """A river's course in map coordinates: an axis and the centreline's offset along it.

    Attributes:
        axis: unit vector ``(x, y)`` of the river's overall direction, in map units.
        along: ``(K,)`` increasing positions along ``axis`` (map units).
        across: ``(K,)`` the centreline's offset across the axis at each ``along`` (map units).
        pixels: river pixels the course was fitted on.
    """

    axis: tuple[float, float]
    along: np.ndarray
    across: np.ndarray
    pixels: int

    @classmethod
    def from_probabilities(cls, prob: np.ndarray, transform: Affine) -> RiverCourse | None:
        """Fit the course on a probability map of "the river".

        Args:
            prob: ``(h, w)`` probabilities (0-1) on a grid.
            transform: the grid's pixel-to-map transform (north-up or not).

        Returns:
            The course, or None when the map holds no river: too few pixels, or a blob with
            no clear direction.
        """
        mask = (np.asarray(prob) >= RIVER_THRESHOLD).astype(np.uint8)
        total = int(mask.sum())
        if total < MIN_RIVER_PIXELS:
            return None
        # Small pieces (a pond or a blue roof lit as "river") would bend the centreline.
        largest = max(shapely.area(shapely.geometry.shape(g)) for g, _ in features.shapes(mask, mask=mask.astype(bool)))
        mask = features.sieve(mask, size=max(2, int(MIN_PIECE_SHARE * largest)), connectivity=8)
        rows, cols = np.nonzero(mask)
        if len(rows) < MIN_RIVER_PIXELS:
            return None
        # Pixel centres to map coordinates (the affine map written out: arrays in, arrays out).
        t, c, r = transform, cols + 0.5, rows + 0.5
        x: np.ndarray = t.a * c + t.b * r + t.c
        y: np.ndarray = t.d * c + t.e * r + t.f
        points = np.column_stack([x - x.mean(), y - y.mean()])
        values, vectors = np.linalg.eigh(points.T @ points / len(points))
        # eigh sorts ascending: values[1] is the spread along the course, values[0] across it.
        if values[1] < MIN_ELONGATION**2 * max(float(values[0]), 1e-12):
            return None
        ax, ay = (float(v) for v in vectors[:, 1])
        along = x * ax + y * ay
        across = x * ay - y * ax
        # The centreline: the median offset of the river's pixels in bins along the axis, about
        # two grid pixels long (a grid pixel's side in map units, from the transform's determinant).
        step = 2.0 * math.sqrt(abs(transform.a * transform.e - transform.b * transform.d))
        bins = np.floor((along - along.min()) / step).astype(np.int64)
        order = np.lexsort((across, bins))  # by bin, then by offset within the bin
        bins, across = bins[order], across[order]
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        last = np.r_[starts[1:], len(bins)] - 1
        medians = (across[(starts + last) // 2] + across[(starts + last + 1) // 2]) / 2.0
        centres = along.min() + (bins[starts] + 0.5) * step
        return cls((ax, ay), centres, medians, len(rows))

    def side(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``(N,)`` signed offset of points from the centreline (map units; > 0 on the axis' right-hand normal)."""
        ax, ay = self.axis
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        return (x * ay - y * ax) - np.interp(x * ax + y * ay, self.along, self.across)

    def sign_towards(self, direction: str) -> int | None:
        """+1 or -1: the :meth:`side` sign of the bank that lies to ``direction``; None when the
        river runs too nearly along that direction for the word to name a bank."""
        ax, ay = self.axis
        tx, ty = COMPASS[direction]
        cos = ay * tx - ax * ty  # the positive normal (ay, -ax) against the direction
        if abs(cos) < math.cos(math.radians(MAX_BANK_ANGLE_DEG)):
            return None
        return 1 if cos > 0 else -1

    def on_bank(self, x: np.ndarray, y: np.ndarray, direction: str) -> np.ndarray | None:
        """``(N,)`` bool: which points lie on the ``direction`` bank; None when no bank is that way."""
        sign = self.sign_towards(direction)
        if sign is None:
            return None
        return sign * self.side(x, y) > 0

    def describe(self) -> str:
        """The river's overall direction in words, e.g. ``"runs west-east"``."""
        ax, ay = self.axis
        bearing = math.degrees(math.atan2(ax, ay)) % 180.0  # 0 = north-south, 90 = west-east
        if bearing < 22.5 or bearing >= 157.5:
            return "runs north-south"
        if bearing < 67.5:
            return "runs south-west to north-east"
        if bearing < 112.5:
            return "runs west-east"
        return "runs north-west to south-east"
