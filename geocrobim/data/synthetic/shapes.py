"""Parametric object footprints and their anti-aliased coverage on a pixel grid.

A footprint is a few numbers in scene metres (x east, y south from the scene's
top-left corner). :meth:`Footprint.coverage` evaluates, for every pixel of a grid,
the fraction of the pixel the shape covers (a clipped signed distance, so edges are
anti-aliased at any GSD); ground-truth masks are ``coverage >= 0.5``, exactly what
the renderer paints. :meth:`Footprint.polygon` gives the same shape as a shapely
geometry for the spatial predicates of the expression grammar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import shapely
from PIL import Image, ImageDraw
from shapely.geometry.base import BaseGeometry

Kind = Literal["box", "circle", "ellipse", "lshape", "hull", "polygon"]


def edge(distance: np.ndarray, gsd: float) -> np.ndarray:
    """Pixel coverage from a signed distance to an edge (metres, positive inside)."""
    return np.clip(distance * np.float32(1.0 / gsd) + np.float32(0.5), 0.0, 1.0)


@dataclass(frozen=True)
class Footprint:
    """A shape in scene metres.

    Attributes:
        kind: box (rectangle), circle, ellipse, lshape (a box with a corner notch),
            hull (a ship: box with a pointed bow at +u), polygon (any shapely geometry).
        cx: centre x (metres east).
        cy: centre y (metres south).
        length: extent along the shape's u axis (diameter for circles).
        width: extent along the v axis.
        angle: direction of the u axis, radians from east towards south.
        notch: lshape only: (fraction of length, fraction of width) cut from the
            (+u, +v) corner; hull only: (bow length fraction, 0).
        geom: polygon only: the geometry.
    """

    kind: Kind
    cx: float
    cy: float
    length: float = 0.0
    width: float = 0.0
    angle: float = 0.0
    notch: tuple[float, float] = (0.0, 0.0)
    geom: BaseGeometry | None = field(default=None, compare=False, repr=False)

    # -- geometry ---------------------------------------------------------------------------
    @cached_property
    def polygon(self) -> BaseGeometry:
        """The footprint as a shapely geometry (circles as 32-gons)."""
        if self.kind == "polygon":
            if self.geom is None:
                raise ValueError("a 'polygon' footprint needs its geometry (geom)")
            return self.geom
        if self.kind in ("circle", "ellipse"):
            t = np.linspace(0, 2 * np.pi, 33)[:-1]
            u, v = 0.5 * self.length * np.cos(t), 0.5 * (self.width or self.length) * np.sin(t)
        elif self.kind == "box":
            u = 0.5 * self.length * np.array([-1, 1, 1, -1])
            v = 0.5 * self.width * np.array([-1, -1, 1, 1])
        elif self.kind == "lshape":
            a, b = 0.5 * self.length, 0.5 * self.width
            nu, nv = a - 2 * a * self.notch[0], b - 2 * b * self.notch[1]
            u = np.array([-a, a, a, nu, nu, -a])
            v = np.array([-b, -b, nv, nv, b, b])
        else:  # hull
            a, b = 0.5 * self.length, 0.5 * self.width
            bow = a - self.length * self.notch[0]
            u = np.array([-a, bow, a, bow, -a])
            v = np.array([-b, -b, 0.0, b, b])
        c, s = math.cos(self.angle), math.sin(self.angle)
        return shapely.Polygon(np.column_stack([self.cx + u * c - v * s, self.cy + u * s + v * c]))

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in scene metres (analytic, without building the polygon)."""
        if self.kind == "polygon":
            return tuple(float(b) for b in self.polygon.bounds)  # type: ignore[return-value]  # bounds are 4 numbers; mypy cannot count a generator
        a, b = 0.5 * self.length, 0.5 * (self.width or self.length)
        c, s = abs(math.cos(self.angle)), abs(math.sin(self.angle))
        if self.kind in ("circle", "ellipse"):
            hx, hy = math.hypot(a * c, b * s), math.hypot(a * s, b * c)
        else:
            hx, hy = a * c + b * s, a * s + b * c
        return (self.cx - hx, self.cy - hy, self.cx + hx, self.cy + hy)

    @property
    def area(self) -> float:
        """Area in square metres."""
        if self.kind == "circle":
            return math.pi * (0.5 * self.length) ** 2
        return float(self.polygon.area)

    # -- rasterisation -------------------------------------------------------------------------
    def local(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u, v) shape-frame coordinates of a pixel grid, each (H, W) float32."""
        c, s = np.float32(math.cos(self.angle)), np.float32(math.sin(self.angle))
        dx = (np.asarray(xs, np.float32) - np.float32(self.cx))[None, :]
        dy = (np.asarray(ys, np.float32) - np.float32(self.cy))[:, None]
        return dx * c + dy * s, dy * c - dx * s

    def coverage(self, xs: np.ndarray, ys: np.ndarray, gsd: float) -> np.ndarray:
        """Fraction of each pixel inside the footprint.

        Args:
            xs: (W,) pixel-centre x in metres (regular, step ``gsd``).
            ys: (H,) pixel-centre y in metres (regular, step ``gsd``).
            gsd: pixel size in metres.

        Returns:
            (H, W) float32 in [0, 1].
        """
        if self.kind == "polygon":
            return rasterize(self.polygon, float(xs[0]) - gsd / 2, float(ys[0]) - gsd / 2, len(xs), len(ys), gsd)
        u, v = self.local(xs, ys)
        a, b = 0.5 * self.length, 0.5 * self.width
        if self.kind == "circle":
            return edge(np.float32(a) - np.sqrt(u * u + v * v), gsd)
        if self.kind == "ellipse":
            r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
            return edge((1.0 - r) * np.float32(min(a, b)), gsd)
        if self.kind == "hull":
            bow = self.length * self.notch[0]
            half = np.float32(b) * np.clip((np.float32(a) - u) / np.float32(bow), 0.0, 1.0)
            # the width tapers to 0 at the bow; bounding u on both sides keeps the tip from leaking along the axis
            return edge(half - np.abs(v), gsd) * edge(u + np.float32(a), gsd) * edge(np.float32(a) - u, gsd)
        box = edge(np.float32(a) - np.abs(u), gsd) * edge(np.float32(b) - np.abs(v), gsd)
        if self.kind == "lshape":
            nu, nv = a - 2 * a * self.notch[0], b - 2 * b * self.notch[1]
            box = box * (1.0 - edge(u - np.float32(nu), gsd) * edge(v - np.float32(nv), gsd))
        return box

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (polygon kinds give their WKT)."""
        if self.kind == "polygon":
            return {"kind": self.kind, "wkt": self.polygon.wkt}
        return {
            "kind": self.kind,
            "cx": round(self.cx, 3),
            "cy": round(self.cy, 3),
            "length": round(self.length, 3),
            "width": round(self.width, 3),
            "angle": round(self.angle, 5),
        }


def rasterize(
    geom: BaseGeometry, x0: float, y0: float, width: int, height: int, gsd: float, supersample: int = 2
) -> np.ndarray:
    """Anti-aliased coverage of a (multi)polygon on a grid.

    Args:
        geom: polygon(s) in scene metres; holes are honoured.
        x0: x of the grid's left edge (metres).
        y0: y of the grid's top edge (metres).
        width: grid columns.
        height: grid rows.
        gsd: pixel size (metres).
        supersample: sub-pixels per pixel side.

    Returns:
        (height, width) float32 coverage in [0, 1].
    """
    s = supersample
    img = Image.new("L", (width * s, height * s), 0)
    draw = ImageDraw.Draw(img)
    scale = s / gsd
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        rings = [(poly.exterior, 255)] + [(ring, 0) for ring in poly.interiors]
        for ring, value in rings:
            xy = (np.asarray(ring.coords) - (x0, y0)) * scale
            if len(xy) >= 3:
                draw.polygon([tuple(p) for p in xy.tolist()], fill=value)
    if s > 1:
        img = img.reduce(s)  # box filter in C
    return np.asarray(img, np.float32) * np.float32(1.0 / 255.0)
