"""The ground under the objects: land-cover parcels, river banks, water, roads.

All textures are world-coordinate noise (:mod:`noise`), so the ground of a window
does not depend on where the window starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.ops
from PIL import Image, ImageDraw
from shapely.geometry.base import BaseGeometry

from geocrobim.data.synthetic.filters import smooth
from geocrobim.data.synthetic.noise import fbm
from geocrobim.data.synthetic.objects import Layout
from geocrobim.data.synthetic.palette import LAND
from geocrobim.data.synthetic.pixel_grid import Grid
from geocrobim.data.synthetic.shapes import rasterize

#: land use -> noise amplitudes: large patches, mid texture, fine grain, sub-metre speckle,
#: hue drift (8-bit units along yellow-green), dark stains.
TEXTURE: dict[str, tuple[float, float, float, float, float, float]] = {
    "grass": (0.12, 0.12, 0.08, 0.10, 16.0, 0.0),
    "lawn": (0.08, 0.10, 0.08, 0.08, 10.0, 0.0),
    "sports": (0.07, 0.08, 0.06, 0.08, 10.0, 0.0),
    "crop": (0.08, 0.07, 0.05, 0.06, 12.0, 0.0),
    "ripe": (0.06, 0.06, 0.05, 0.06, 10.0, 0.0),
    "ploughed": (0.07, 0.07, 0.08, 0.08, 6.0, 0.0),
    "forest": (0.08, 0.0, 0.0, 0.0, 8.0, 0.0),
    "yard": (0.06, 0.07, 0.07, 0.08, 3.0, 0.09),
}
DEFAULT_GROUND = (104.0, 118.0, 74.0)


@dataclass
class Noise:
    """The shared noise fields of one window (computed once, used by many layers)."""

    low: np.ndarray
    mid: np.ndarray
    fine: np.ndarray
    speck: np.ndarray

    @classmethod
    def of(cls, layout: Layout, grid: Grid) -> Noise:
        """Noise fields for ``grid``: 70 m patches, 9 m texture, 1.6 m grain, 0.6 m speckle."""
        xs, ys, k, g = grid.xs, grid.ys, layout.noise_key, grid.gsd
        return cls(
            low=fbm(xs, ys, 70.0, k + 1, gsd=g, octaves=3),
            mid=fbm(xs, ys, 9.0, k + 2, gsd=g, octaves=3),
            fine=fbm(xs, ys, 1.6, k + 3, gsd=g, octaves=2),
            speck=fbm(xs, ys, 0.6, k + 4, gsd=g, octaves=1),
        )


def lerp_into(rgb: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """rgb += alpha * (colour - rgb), in place. colour is (3,) or (..., 3); alpha (...)."""
    rgb += alpha[..., None] * (colour - rgb)


def lerp_sparse(rgb: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """:func:`lerp_into` restricted to the bounding box where ``alpha`` > 0 (full-frame layers)."""
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    lerp_into(rgb[sl], colour if colour.ndim == 1 else colour[sl], alpha[sl])


def paint_geometry(rgb: np.ndarray, grid: Grid, geom: BaseGeometry, colour: np.ndarray, supersample: int = 2) -> None:
    """Paint a polygon's anti-aliased coverage, touching only its bounding box.

    ``colour`` is (3,) or a full-grid (H, W, 3) array (only its crop is read).
    """
    if geom.is_empty:
        return
    sl = grid.slices(geom.bounds)
    if sl is None:
        return
    rows, cols = sl
    g = grid.gsd
    a = rasterize(geom, (grid.col_off + cols.start) * g, (grid.row_off + rows.start) * g,
                  cols.stop - cols.start, rows.stop - rows.start, g, supersample)  # fmt: skip
    col = colour if colour.ndim == 1 else colour[rows, cols]
    lerp_into(rgb[rows, cols], col, a)


def ground(layout: Layout, grid: Grid, noise: Noise) -> np.ndarray:
    """Land cover of a window: parcels with their colours, field rows and canopy.

    Returns:
        (H, W, 3) float32 in 8-bit units.
    """
    x0, y0, x1, y1 = grid.bounds
    view = shapely.box(x0, y0, x1, y1)
    parcels = [p for p in layout.parcels if p.geom.intersects(view)]
    img = Image.new("I", (grid.width, grid.height), 0)
    draw = ImageDraw.Draw(img)
    for i, p in enumerate(parcels, start=1):
        xy = (np.asarray(p.geom.exterior.coords) - (x0, y0)) / grid.gsd
        draw.polygon([tuple(q) for q in xy.tolist()], fill=i)
    label = np.asarray(img, np.int32)

    base = np.asarray([DEFAULT_GROUND] + [p.rgb for p in parcels], np.float32)
    tex = np.asarray([TEXTURE["grass"]] + [TEXTURE[p.use] for p in parcels], np.float32)
    t = tex[label]
    f = 1.0 + t[..., 0] * noise.low + t[..., 1] * noise.mid + t[..., 2] * noise.fine + t[..., 3] * noise.speck
    f -= t[..., 5] * np.clip(2.0 * noise.mid - 0.2, 0.0, 1.0)  # oil and water stains on paved yards
    stripes = np.asarray([(0.0, 1.0, 0.0)] + [p.stripes for p in parcels], np.float64)
    # rows finer than ~2 px are averaged away by the sensor
    amp = (stripes[:, 2] * np.clip((stripes[:, 1] / grid.gsd - 2.0) / 2.0, 0.0, 1.0)).astype(np.float32)
    if np.any(amp > 0):
        xs, ys = grid.xs.astype(np.float32), grid.ys.astype(np.float32)
        k = (np.float32(2 * math.pi) / stripes[:, 1]).astype(np.float32)
        kx, ky = (np.cos(stripes[:, 0]) * k).astype(np.float32), (np.sin(stripes[:, 0]) * k).astype(np.float32)
        f += amp[label] * np.sin(xs[None, :] * kx[label] + ys[:, None] * ky[label])
    forest = np.asarray([False] + [p.use == "forest" for p in parcels])
    if forest.any():
        f = np.where(forest[label], canopy(layout, grid, noise), f)
    rgb = base[label] * f[..., None]
    rgb += (t[..., 4] * noise.low)[..., None] * np.asarray((0.7, 0.5, -0.6), np.float32)
    return rgb


def canopy(layout: Layout, grid: Grid, noise: Noise) -> np.ndarray:
    """Brightness of a forest canopy: lit crowns, dark gaps, shaded away from the sun.

    Returns:
        (H, W) float32 brightness factor around 1.
    """
    xs, ys, k, g = grid.xs, grid.ys, layout.noise_key, grid.gsd
    sx, sy = layout.sun_direction * 1.2

    def crowns(dx: float, dy: float) -> np.ndarray:
        # incommensurate cells (6.1, 4.3, 2.3 m) so the lattice of value noise does not show
        return (0.55 * fbm(xs + dx, ys + dy, 6.1, k + 5, gsd=g, octaves=1)
                + 0.35 * fbm(xs + dx, ys + dy, 4.3, k + 6, gsd=g, octaves=1)
                + 0.2 * fbm(xs + dx, ys + dy, 2.3, k + 7, gsd=g, octaves=1))  # fmt: skip

    c, lit = crowns(0.0, 0.0), crowns(sx, sy)
    tops = np.clip(0.5 + 2.6 * c, 0.0, 1.0)
    return 0.5 + 0.8 * tops + 2.4 * (lit - c) + 0.1 * noise.low


def water(layout: Layout, grid: Grid, rgb: np.ndarray, noise: Noise) -> None:
    """Paint river banks, then river and lake water with shallow edges, in place."""
    x0, y0, x1, y1 = grid.bounds
    view = shapely.box(x0, y0, x1, y1)
    shapes = [o.footprint.polygon for o in layout.objects if o.category in ("lake", "river")]
    shapes = [s for s in shapes if s.intersects(view)]
    if not shapes:
        return
    if layout.river is not None and layout.river.banks.intersects(view):
        sand = LAND["sand" if layout.noise_key % 3 else "mud"][layout.noise_key % 2]
        bank = np.asarray(sand, np.float32) * (1.0 + 0.08 * noise.mid + 0.07 * noise.fine)[..., None]
        paint_geometry(rgb, grid, layout.river.banks.intersection(view.buffer(5 * grid.gsd)), bank)
    wet = rasterize(shapely.union_all(shapes).intersection(view.buffer(5 * grid.gsd)), x0, y0, grid.width, grid.height, grid.gsd)
    depth = np.clip((smooth(wet, min(4.0 / grid.gsd, 10.0)) - 0.45) * 2.2, 0.0, 1.0)
    deep, shallow = (np.asarray(c, np.float32) for c in layout.water_rgb)
    colour = shallow + (deep - shallow) * np.sqrt(depth)[..., None]
    colour *= (1.0 + 0.05 * noise.low + 0.02 * noise.fine)[..., None]
    lerp_sparse(rgb, colour, wet)


def roads(layout: Layout, grid: Grid, rgb: np.ndarray, noise: Noise) -> None:
    """Paint verges, asphalt and (at fine GSD) lane markings of every road, in place."""
    x0, y0, x1, y1 = grid.bounds
    view = shapely.box(x0, y0, x1, y1)
    river = layout.river.water if layout.river is not None else None
    grain = (1.0 + 0.04 * noise.mid + 0.06 * noise.fine)[..., None]
    for road in layout.roads:
        line = road.line.intersection(view.buffer(road.width + 10))
        if line.is_empty:
            continue
        if road.verge is not None:
            verge = line.buffer(road.width / 2 + 1.5, cap_style="flat")
            paint_geometry(rgb, grid, verge.difference(river) if river is not None else verge,
                           np.asarray(road.verge, np.float32) * grain)  # fmt: skip
        deck = line.buffer(road.width / 2, cap_style="flat")
        if river is not None:
            deck = deck.difference(river)
        paint_geometry(rgb, grid, deck, np.asarray(road.rgb, np.float32) * grain)
        if grid.gsd <= 1.2:
            marks = markings(line, road.width)
            if river is not None:
                marks = marks.difference(river)
            paint_geometry(rgb, grid, marks, np.asarray((222, 222, 214), np.float32), supersample=4)


def markings(line: BaseGeometry, width: float) -> BaseGeometry:
    """Edge lines and a dashed centre line (3 m dashes every 9 m), as polygons."""
    parts: list[BaseGeometry] = []
    for seg in getattr(line, "geoms", [line]):
        if seg.geom_type != "LineString" or seg.length < 1:
            continue
        for off in (width / 2 - 0.45, -(width / 2 - 0.45)):
            parts.append(seg.offset_curve(off).buffer(0.08, cap_style="flat"))
        starts = np.arange(0.0, seg.length - 3.0, 9.0)
        dashes = [shapely.ops.substring(seg, s, s + 3.0) for s in starts]
        if dashes:
            parts.append(shapely.MultiLineString(dashes).buffer(0.08, cap_style="flat"))
    return shapely.union_all(parts) if parts else shapely.Polygon()

