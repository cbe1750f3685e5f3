"""Where objects may go: collision bookkeeping and rejection sampling in a region."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geocrobim.data.synthetic.shapes import Footprint


class Occupancy:
    """Footprints already placed; answers "is this one clear of all of them?".

    A uniform grid of buckets keeps both operations O(1) in the number of objects.
    """

    def __init__(self, cell: float = 40.0) -> None:
        self._cell = cell
        self._buckets: dict[tuple[int, int], list[BaseGeometry]] = {}

    def _keys(self, bounds: tuple[float, ...], pad: float) -> list[tuple[int, int]]:
        c = self._cell
        i0, j0 = math.floor((bounds[0] - pad) / c), math.floor((bounds[1] - pad) / c)
        i1, j1 = math.floor((bounds[2] + pad) / c), math.floor((bounds[3] + pad) / c)
        return [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]

    def add(self, geom: BaseGeometry) -> None:
        """Reserve a geometry."""
        for key in self._keys(geom.bounds, 0.0):
            self._buckets.setdefault(key, []).append(geom)

    def free(self, geom: BaseGeometry, gap: float = 0.0) -> bool:
        """True if ``geom`` keeps at least ``gap`` metres from everything reserved."""
        near = {id(g): g for key in self._keys(geom.bounds, gap) for g in self._buckets.get(key, ())}
        if not near:
            return True
        return not bool(np.any(shapely.dwithin(np.asarray(list(near.values()), dtype=object), geom, gap)))


class Region:
    """A (prepared) polygon to place objects in, with its dominant direction."""

    def __init__(self, geom: BaseGeometry, angle: float) -> None:
        self.geom = geom
        shapely.prepare(geom)
        self.angle = angle
        self.bounds = geom.bounds

    def contains(self, geom: BaseGeometry) -> bool:
        """True if ``geom`` lies wholly inside the region."""
        return bool(self.geom.contains(geom))

    def random_point(self, rng: np.random.Generator) -> tuple[float, float]:
        """A uniform point in the region's bounding box (callers test containment)."""
        x0, y0, x1, y1 = self.bounds
        return float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))

    def grid(self, rng: np.random.Generator, step_u: float, step_v: float) -> list[tuple[float, float]]:
        """Points of a grid aligned with the region's direction, covering its bounding box."""
        x0, y0, x1, y1 = self.bounds
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        r = 0.5 * math.hypot(x1 - x0, y1 - y0)
        c, s = math.cos(self.angle), math.sin(self.angle)
        pu = np.arange(-r, r, step_u) + rng.uniform(0, step_u)
        pv = np.arange(-r, r, step_v) + rng.uniform(0, step_v)
        out = []
        for v in pv:
            for u in pu:
                x, y = cx + u * c - v * s, cy + u * s + v * c
                if x0 <= x <= x1 and y0 <= y <= y1:
                    out.append((x, y))
        return out


def reserve(region: Region, occupancy: Occupancy, fp: Footprint, gap: float = 2.0) -> bool:
    """Reserve ``fp`` if it lies inside ``region`` and ``gap`` metres clear of ``occupancy``."""
    poly = fp.polygon
    if region.contains(poly) and occupancy.free(poly, gap):
        occupancy.add(poly)
        return True
    return False


def try_place(
    rng: np.random.Generator,
    region: Region,
    occupancy: Occupancy,
    make: Callable[[float, float], Footprint],
    *,
    attempts: int = 20,
    gap: float = 2.0,
    at: tuple[float, float] | None = None,
) -> Footprint | None:
    """Rejection-sample a footprint inside ``region`` clear of ``occupancy``.

    Args:
        rng: random generator.
        region: where the footprint must lie.
        occupancy: what it must not touch; it is reserved there on success.
        make: builds a footprint centred at (x, y).
        attempts: tries before giving up.
        gap: clearance in metres.
        at: try exactly this centre once instead of random ones.

    Returns:
        The placed footprint, or None.
    """
    for _ in range(1 if at else attempts):
        x, y = at if at else region.random_point(rng)
        fp = make(x, y)
        if reserve(region, occupancy, fp, gap):
            return fp
    return None


def parcel_angle(geom: BaseGeometry) -> float:
    """Direction (radians) of the longer side of a geometry's minimum rotated rectangle."""
    rect = np.asarray(shapely.minimum_rotated_rectangle(geom).exterior.coords)
    if len(rect) < 4:
        return 0.0
    e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
    e = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    return math.atan2(e[1], e[0])
