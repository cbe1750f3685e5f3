"""The pixel grid a layout is rendered on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """A window of pixels over a scene.

    Attributes:
        col_off: first column, in pixels of the scene at this GSD.
        row_off: first row.
        width: columns.
        height: rows.
        gsd: pixel size, metres.
    """

    col_off: int
    row_off: int
    width: int
    height: int
    gsd: float

    @property
    def xs(self) -> np.ndarray:
        """(W,) pixel-centre x in scene metres."""
        return (np.arange(self.width) + (self.col_off + 0.5)) * self.gsd

    @property
    def ys(self) -> np.ndarray:
        """(H,) pixel-centre y in scene metres."""
        return (np.arange(self.height) + (self.row_off + 0.5)) * self.gsd

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the window in scene metres."""
        g = self.gsd
        return (self.col_off * g, self.row_off * g, (self.col_off + self.width) * g, (self.row_off + self.height) * g)

    def padded(self, pad: int) -> Grid:
        """The same window grown by ``pad`` pixels on every side."""
        return Grid(self.col_off - pad, self.row_off - pad, self.width + 2 * pad, self.height + 2 * pad, self.gsd)

    def slices(self, bounds: tuple[float, float, float, float]) -> tuple[slice, slice] | None:
        """(rows, cols) slices of this grid covering scene-metre ``bounds``, or None if disjoint."""
        g = self.gsd
        c0 = max(math.floor(bounds[0] / g) - self.col_off - 1, 0)
        r0 = max(math.floor(bounds[1] / g) - self.row_off - 1, 0)
        c1 = min(math.ceil(bounds[2] / g) - self.col_off + 1, self.width)
        r1 = min(math.ceil(bounds[3] / g) - self.row_off + 1, self.height)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)
