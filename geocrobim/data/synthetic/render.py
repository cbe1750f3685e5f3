"""Render a layout, or any window of it, to an 8-bit RGB image; render ground-truth masks.

Order: ground (parcels, banks, water, roads) -> flat objects (parking, courts,
pools, bridges) -> cast shadows -> vehicles, ships, buildings, tanks -> trees ->
illumination, grading, sensor blur and noise. A window is rendered with a halo of
:data:`PAD` pixels so blurs see their neighbours, and every texture is a function of
world position, so windows tile a big scene without seams.
"""

from __future__ import annotations

import numpy as np
import shapely
from PIL import Image, ImageDraw

from geocrobim.data.synthetic.filters import blur
from geocrobim.data.synthetic.noise import fbm
from geocrobim.data.synthetic.objects import Layout, SceneObject
from geocrobim.data.synthetic.painters import LAYER, PAINTERS, Light
from geocrobim.data.synthetic.pixel_grid import Grid
from geocrobim.data.synthetic.terrain import Noise, ground, lerp_into, lerp_sparse, roads, water

PAD = 12
SHADOW_TINT = np.asarray((0.48, 0.52, 0.6), np.float32)  # shadows are lit by the blue sky only


def render(layout: Layout, grid: Grid) -> np.ndarray:
    """Render one window of a layout.

    Args:
        layout: the scene.
        grid: the window and its GSD.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    work = grid.padded(PAD)
    noise = Noise.of(layout, work)
    rgb = ground(layout, work, noise)
    water(layout, work, rgb, noise)
    roads(layout, work, rgb, noise)
    objs = _visible(layout, work)
    light = Light(layout.sun_direction, layout.noise_key)
    grain = 1.0 + 0.09 * noise.mid + 0.06 * noise.fine  # weathering shared by every painted surface
    _paint(rgb, work, [o for o in objs if LAYER.get(o.category, 9) <= 1], light, grain)
    trees = [o for o in objs if o.category == "tree"]
    shadow = np.maximum(_object_shadows(layout, work), _tree_shadows(layout, work, trees))
    rgb *= (1.0 - shadow[..., None] * (1.0 - SHADOW_TINT)).astype(np.float32)
    _paint(rgb, work, [o for o in objs if 2 <= LAYER.get(o.category, 9) <= 3], light, grain)
    _trees(layout, work, rgb, trees, noise)
    return _finish(layout, work, rgb)[PAD:-PAD, PAD:-PAD]


def render_mask(obj: SceneObject, grid: Grid) -> np.ndarray:
    """Ground truth of one object on a grid: 1 where the object covers half a pixel or more.

    Returns:
        (H, W) uint8 in {0, 1}.
    """
    mask = np.zeros((grid.height, grid.width), np.uint8)
    sl = grid.slices(obj.footprint.bounds)
    if sl is not None:
        rows, cols = sl
        cover = obj.footprint.coverage(grid.xs[cols], grid.ys[rows], grid.gsd)
        mask[rows, cols] = cover >= 0.5
    return mask


def _visible(layout: Layout, grid: Grid) -> list[SceneObject]:
    """Objects whose footprint, shadow or wake may reach the window."""
    if not layout.objects:
        return []
    b = layout.object_bounds()
    reach = 60.0  # metres: longest shadow or wake
    x0, y0, x1, y1 = grid.bounds
    hit = (b[:, 0] < x1 + reach) & (b[:, 2] > x0 - reach) & (b[:, 1] < y1 + reach) & (b[:, 3] > y0 - reach)
    return [layout.objects[i] for i in np.flatnonzero(hit)]


def _paint(rgb: np.ndarray, grid: Grid, objs: list[SceneObject], light: Light, grain: np.ndarray) -> None:
    """Run each object's painter on its crop, in layer order."""
    xs, ys = grid.xs, grid.ys
    for obj in sorted(objs, key=lambda o: LAYER[o.category]):
        x0, y0, x1, y1 = obj.footprint.bounds
        if obj.category == "ship" and obj.style.get("wake"):
            grow = 2.0 * obj.footprint.length
            x0, y0, x1, y1 = x0 - grow, y0 - grow, x1 + grow, y1 + grow
        sl = grid.slices((x0, y0, x1, y1))
        if sl is None:
            continue
        rows, cols = sl
        fp = obj.footprint
        if min(fp.length, fp.width or fp.length) < 4.0 * grid.gsd and "rgb" in obj.style:
            # a few pixels: details are below the sensor's resolution, only the colour shows
            lerp_into(rgb[rows, cols], np.asarray(obj.style["rgb"], np.float32), fp.coverage(xs[cols], ys[rows], grid.gsd))
        else:
            PAINTERS[obj.category](rgb[rows, cols], xs[cols], ys[rows], grid.gsd, obj, light, grain[rows, cols])


def _shadow_hulls(layout: Layout) -> tuple[list[SceneObject], list[np.ndarray]]:
    """Each tall object's shadow polygon in scene metres (footprint swept along the sun), cached.

    The sweep of a convex footprint along the shadow vector is the convex hull of the
    footprint and its translate; shapely computes all hulls in one vectorised call.
    """
    cache = layout.cache.get("shadows")
    if cache is not None:
        return cache
    objs = [o for o in layout.objects if o.height > 0 and o.category != "tree"]
    if not objs:
        layout.cache["shadows"] = ([], [])
        return layout.cache["shadows"]
    pts, idx = shapely.get_coordinates([o.footprint.polygon for o in objs], return_index=True)
    vec = layout.shadow_vector[None, :] * np.asarray([o.height for o in objs])[idx][:, None]
    both, order = np.vstack([pts, pts + vec]), np.argsort(np.concatenate([idx, idx]), kind="stable")
    hulls = shapely.convex_hull(shapely.multipoints(both[order], indices=np.concatenate([idx, idx])[order]))
    coords, hidx = shapely.get_coordinates(hulls, return_index=True)
    splits = np.split(coords, np.flatnonzero(np.diff(hidx)) + 1)
    layout.cache["shadows"] = (objs, splits)
    return objs, splits


def _object_shadows(layout: Layout, grid: Grid, supersample: int = 2) -> np.ndarray:
    """Shadow strength (H, W) cast by objects with a height (trees excluded)."""
    objs, hulls = _shadow_hulls(layout)
    s = supersample
    img = Image.new("L", (grid.width * s, grid.height * s), 0)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = grid.bounds
    k = s / grid.gsd
    drawn = False
    for _obj, hull in zip(objs, hulls, strict=True):
        if hull[:, 0].max() < x0 or hull[:, 0].min() > x1 or hull[:, 1].max() < y0 or hull[:, 1].min() > y1:
            continue
        draw.polygon([tuple(p) for p in ((hull - (x0, y0)) * k).tolist()], fill=255)
        drawn = True
    if not drawn:
        return np.zeros((grid.height, grid.width), np.float32)
    for obj in objs:  # flat objects painted before the shadows must not shade themselves
        if LAYER.get(obj.category, 9) <= 1:
            ring = np.asarray(obj.footprint.polygon.exterior.coords)
            draw.polygon([tuple(p) for p in ((ring - (x0, y0)) * k).tolist()], fill=0)
    return np.asarray(img.reduce(s) if s > 1 else img, np.float32) * np.float32(1.0 / 255.0)


def _discs(grid: Grid, trees: list[SceneObject], shift: np.ndarray | None, supersample: int = 2) -> np.ndarray:
    """Anti-aliased union of tree crowns (optionally displaced by ``shift`` per metre of height)."""
    s = supersample
    img = Image.new("L", (grid.width * s, grid.height * s), 0)
    draw = ImageDraw.Draw(img)
    x0, y0 = grid.col_off * grid.gsd, grid.row_off * grid.gsd
    k = s / grid.gsd
    for t in trees:
        fp = t.footprint
        dx, dy = (shift * t.height) if shift is not None else (0.0, 0.0)
        cx, cy, r = (fp.cx + dx - x0) * k, (fp.cy + dy - y0) * k, fp.length / 2 * k
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    return np.asarray(img.reduce(s) if s > 1 else img, np.float32) * np.float32(1.0 / 255.0)


def _tree_shadows(layout: Layout, grid: Grid, trees: list[SceneObject]) -> np.ndarray:
    """Shadow strength (H, W) of tree crowns, slightly translucent."""
    if not trees:
        return np.zeros((grid.height, grid.width), np.float32)
    return 0.85 * _discs(grid, trees, layout.shadow_vector * 0.7)


def _trees(layout: Layout, grid: Grid, rgb: np.ndarray, trees: list[SceneObject], noise: Noise) -> None:
    """Paint tree crowns: foliage texture, lit on the sun side."""
    if not trees:
        return
    alpha = _discs(grid, trees, None)
    soft = blur(alpha, max(0.8 / grid.gsd, 0.6))
    sx, sy = np.round(layout.sun_direction * max(0.6 / grid.gsd, 1.0)).astype(int)
    lit = np.roll(soft, (-sy, -sx), axis=(0, 1)) - soft
    shade = 0.95 + 1.2 * noise.mid + 0.5 * noise.fine + 1.4 * lit
    colour = np.asarray((52, 76, 42), np.float32) * shade[..., None]
    lerp_sparse(rgb, colour, alpha)


def _finish(layout: Layout, grid: Grid, rgb: np.ndarray) -> np.ndarray:
    """Illumination, sensor blur, grading and noise; quantise to uint8.

    The tone curve (gain, white balance, gamma, haze) is per channel, so it runs as a
    256-entry lookup table after quantisation; blur and saturation are linear and go first.
    """
    light = 1.0 + 0.05 * fbm(grid.xs, grid.ys, 450.0, layout.noise_key + 9, gsd=grid.gsd, octaves=1)
    rgb *= light[..., None]
    grading = layout.grading
    rgb = grading.saturate(blur(rgb, grading.blur))
    seed = [layout.noise_key, grid.col_off + (1 << 20), grid.row_off + (1 << 20), int(round(grid.gsd * 1000))]
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    rgb += (rng.standard_normal(rgb.shape[:2], dtype=np.float32) * np.float32(grading.noise))[..., None]
    index = np.clip(rgb, 0, 255).astype(np.uint8)
    lut = grading.lut()  # (3, 256) uint8
    return np.stack([lut[c][index[..., c]] for c in range(3)], axis=-1)
