"""Painters: how each kind of object looks from above.

Every painter draws one object into a crop of the canvas. It gets the crop's
pixel-centre coordinates in scene metres, so it works in the object's own frame
(u along its length, v across) and at any GSD: details thinner than a pixel (court
lines, lane marks, roof corrugation) fade by their true coverage instead of aliasing.
Roof facets are lit by the scene's sun, so gabled roofs show their ridge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from geocrobim.data.synthetic.filters import line_coverage
from geocrobim.data.synthetic.noise import value_noise
from geocrobim.data.synthetic.objects import SceneObject
from geocrobim.data.synthetic.shapes import Footprint, edge
from geocrobim.data.synthetic.terrain import lerp_into

WHITE_PAINT = np.asarray((226, 226, 218), np.float32)


@dataclass(frozen=True)
class Light:
    """Scene-wide lighting and noise key.

    Attributes:
        sun: (2,) unit ground vector towards the sun (x east, y south).
        key: the scene's noise key.
    """

    sun: np.ndarray
    key: int


#: painter(rgb crop (h, w, 3), xs (w,), ys (h,), gsd, object, light, grain crop (h, w)); paints in place.
Painter = Callable[[np.ndarray, np.ndarray, np.ndarray, float, SceneObject, Light, np.ndarray], None]


def _axes(fp: Footprint) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(fp.angle), math.sin(fp.angle)
    return np.array([c, s]), np.array([-s, c])


def roof(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Warehouses and houses: gabled, hipped or flat roofs, lit facets, ridges, skylights."""
    fp = obj.footprint
    alpha = fp.coverage(xs, ys, gsd)
    u, v = fp.local(xs, ys)
    au, av = _axes(fp)
    a, b = fp.length / 2, fp.width / 2
    kind = obj.style.get("roof", "gable")
    tilt = 0.3 if obj.category == "house" else 0.18
    along_u = np.ones_like(u, dtype=bool)
    if fp.kind == "lshape":  # a bar along u and a column along v beyond the notch line
        nu, nv = a - 2 * a * fp.notch[0], b - 2 * b * fp.notch[1]
        along_u = v <= nv
        ridge_u, ridge_v = (-a + nu) / 2, (-b + nv) / 2
    else:
        ridge_u, ridge_v = 0.0, 0.0
    if kind == "flat":
        inner = edge(np.minimum(a - np.abs(u), b - np.abs(v)) - 0.8, gsd)
        light_f = 0.86 + 0.14 * inner
    else:
        tv = np.clip((v - ridge_v) / gsd, -1, 1)  # facet side across a u-ridge
        tu = np.clip((u - ridge_u) / gsd, -1, 1)
        side = np.where(along_u, tv * float(av @ light.sun), tu * float(au @ light.sun))
        if kind == "hip" and fp.kind != "lshape":
            end = np.abs(u) - (a - b) > np.abs(v)
            side = np.where(end, np.clip(u / gsd, -1, 1) * float(au @ light.sun), side)
        light_f = 1.0 + tilt * side
        ridge = np.where(along_u, line_coverage(v - ridge_v, 0.35, gsd), line_coverage(u - ridge_u, 0.35, gsd))
        light_f = light_f + 0.08 * ridge
    if obj.category == "warehouse" and gsd < 0.9:  # corrugated sheet, across the ridge
        light_f = light_f * (1.0 + 0.05 * (0.9 - gsd) / 0.9 * np.sin(u * np.float32(2 * math.pi / 0.9)))
    if fp.kind != "lshape":  # gutters and parapets: a darker rim
        light_f = light_f * (0.82 + 0.18 * edge(np.minimum(a - np.abs(u), b - np.abs(v)) - 0.35, gsd))
    weather = grain
    colour = np.asarray(obj.style["rgb"], np.float32) * (light_f * weather)[..., None]
    if obj.style.get("skylights"):
        band = edge(np.abs(np.abs(v) - 0.55 * b) - 0.12 * b, gsd)
        panes = band * (np.mod(u, 8.0) < 3.5)
        lerp_into(colour, np.asarray((200, 208, 212), np.float32), panes * 0.8)
    lerp_into(rgb, colour, alpha)


def tank(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Storage tanks: a lit dome, or a floating roof with the wall's shadow inside."""
    fp = obj.footprint
    alpha = fp.coverage(xs, ys, gsd)
    r = fp.length / 2
    dx = (xs[None, :] - fp.cx) / r
    dy = (ys[:, None] - fp.cy) / r
    d = np.sqrt(dx * dx + dy * dy)
    toward = dx * light.sun[0] + dy * light.sun[1]
    if obj.style.get("floating"):
        inner = edge(r * (0.9 - d), gsd)
        shade = 1.0 - 0.25 * inner - 0.3 * inner * np.clip((toward - 0.45) / 0.15, 0, 1)
    else:
        shade = 1.0 + 0.2 * toward * d - 0.12 * d**4
    rim = line_coverage(r * (d - 0.95), 0.6, gsd)
    shade = shade - 0.12 * rim - 0.15 * edge(r * (0.05 - d), gsd)
    colour = np.asarray(obj.style["rgb"], np.float32) * shade[..., None].astype(np.float32)
    lerp_into(rgb, colour, alpha)


def pool(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Swimming pools: a light coping and turquoise water, deeper at one end."""
    fp = obj.footprint
    lerp_into(rgb, np.asarray((206, 204, 196), np.float32), fp.coverage(xs, ys, gsd))
    inner = Footprint(fp.kind, fp.cx, fp.cy, fp.length - 1.0, fp.width - 1.0, fp.angle)
    u, _ = fp.local(xs, ys)
    depth = 1.0 - 0.15 * np.clip(u / fp.length + 0.5, 0, 1)
    colour = np.asarray(obj.style["rgb"], np.float32) * (depth * np.sqrt(grain))[..., None]
    lerp_into(rgb, colour, inner.coverage(xs, ys, gsd))


def _segment(u: np.ndarray, v: np.ndarray, at: float, half: float, gsd: float, width: float = 0.1) -> np.ndarray:
    """Coverage of a painted line at u == at spanning |v| <= half."""
    return line_coverage(u - at, width, gsd) * edge(half - np.abs(v), gsd)


def tennis(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Tennis courts: surround, playing surface, white lines, net."""
    fp = obj.footprint
    u, v = fp.local(xs, ys)
    lerp_into(rgb, np.asarray(obj.style["surround"], np.float32), fp.coverage(xs, ys, gsd))
    play = edge(11.885 - np.abs(u), gsd) * edge(5.485 - np.abs(v), gsd)
    lerp_into(rgb, np.asarray(obj.style["rgb"], np.float32), play)
    lines = np.maximum.reduce([
        _segment(np.abs(u), v, 11.885, 5.485, gsd),
        _segment(np.abs(v), u, 5.485, 11.885, gsd),
        _segment(np.abs(v), u, 4.115, 11.885, gsd),
        _segment(np.abs(u), v, 6.4, 4.115, gsd),
        _segment(v, u, 0.0, 6.4, gsd),
    ])  # fmt: skip
    lerp_into(rgb, WHITE_PAINT, lines * 0.9)
    lerp_into(rgb, np.asarray((40, 40, 40), np.float32), _segment(u, v, 0.0, 6.4, gsd, 0.15) * 0.8)


def basketball(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Basketball courts: surface, painted keys, boundary, centre circle, three-point arcs."""
    fp = obj.footprint
    u, v = fp.local(xs, ys)
    base = np.asarray(obj.style["rgb"], np.float32)
    lerp_into(rgb, np.asarray(obj.style["surround"], np.float32), fp.coverage(xs, ys, gsd))
    lerp_into(rgb, base, edge(14.0 - np.abs(u), gsd) * edge(7.5 - np.abs(v), gsd))
    key = edge(5.8 - (14.0 - np.abs(u)), gsd) * edge(14.0 - np.abs(u), gsd) * edge(2.45 - np.abs(v), gsd)
    lerp_into(rgb, base * 0.75 + np.float32(20), key)
    hoop = np.sqrt((np.abs(u) - 12.425) ** 2 + v * v)
    arc = line_coverage(hoop - 6.75, 0.1, gsd) * (np.abs(u) < 12.425 + 0.5) * (np.abs(v) < 6.6)
    lines = np.maximum.reduce([
        _segment(np.abs(u), v, 14.0, 7.5, gsd),
        _segment(np.abs(v), u, 7.5, 14.0, gsd),
        _segment(u, v, 0.0, 7.5, gsd),
        line_coverage(np.sqrt(u * u + v * v) - 1.8, 0.1, gsd),
        arc,
    ])  # fmt: skip
    lerp_into(rgb, WHITE_PAINT, lines * 0.9)


def vehicle(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Cars (body, dark windscreens, lit roof) and trucks (cab and trailer)."""
    fp = obj.footprint
    alpha = fp.coverage(xs, ys, gsd)
    u, v = fp.local(xs, ys)
    a = fp.length / 2
    body = np.asarray(obj.style["rgb"], np.float32)
    if obj.size == "large":
        cab = edge(u - (a - 2.2), gsd)
        colour = body + (np.asarray(obj.style["cab"], np.float32) - body) * cab[..., None]
        colour = colour * (1.0 - 0.35 * line_coverage(u - (a - 2.4), 0.3, gsd))[..., None]
    else:
        glass = np.maximum(
            edge(0.18 * a - np.abs(u - 0.3 * a), gsd), edge(0.12 * a - np.abs(u + 0.45 * a), gsd)
        ) * edge(0.42 * fp.width - np.abs(v), gsd)
        shade = 1.0 + 0.12 * edge(0.25 * fp.width - np.abs(v), gsd)
        colour = body * shade[..., None]
        lerp_into(colour, np.asarray((30, 34, 40), np.float32), glass * 0.85)
    lerp_into(rgb, colour, alpha)


def ship(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Ships and boats: wake behind a moving one, hull, deck, cabin."""
    fp = obj.footprint
    u, v = fp.local(xs, ys)
    a, b = fp.length / 2, fp.width / 2
    if obj.style.get("wake"):  # churned water behind the stern, widening and fading within ~2 hull lengths
        behind = -u - a
        spread = b + 0.2 * np.clip(behind, 0, None)
        foam = np.exp(-np.clip(behind, 0, None) / (0.5 * fp.length)) * edge(behind, gsd)
        foam = foam * np.clip(1 - np.abs(v) / spread, 0, 1) * np.clip(0.4 + 1.5 * value_noise(xs, ys, 1.0, light.key + 13), 0, 1)
        lerp_into(rgb, np.asarray((196, 206, 206), np.float32), foam * 0.5)
    lerp_into(rgb, np.asarray(obj.style["rgb"], np.float32), fp.coverage(xs, ys, gsd))
    deck = Footprint("hull", fp.cx, fp.cy, fp.length * 0.92, fp.width * 0.75, fp.angle, notch=fp.notch)
    lerp_into(rgb, np.asarray(obj.style["deck"], np.float32) * 0.92, deck.coverage(xs, ys, gsd) * 0.8)
    cabin_len = obj.style.get("cabin", 0.25) * fp.length
    cabin = edge(u + a - 0.08 * fp.length, gsd) * edge(-a + 0.08 * fp.length + cabin_len - u, gsd) * edge(0.65 * b - np.abs(v), gsd)
    lit = 1.0 + 0.1 * np.clip(v / gsd, -1, 1) * float(_axes(fp)[1] @ light.sun)
    lerp_into(rgb, np.asarray((236, 236, 232), np.float32) * lit[..., None], cabin)


def bridge(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Bridges: concrete deck edges, asphalt carriageway, railings, centre dashes."""
    fp = obj.footprint
    u, v = fp.local(xs, ys)
    b = fp.width / 2
    lerp_into(rgb, np.asarray((170, 168, 162), np.float32) * grain[..., None],
              fp.coverage(xs, ys, gsd))  # fmt: skip
    carriage = edge(b - 1.5 - np.abs(v), gsd) * edge(fp.length / 2 - np.abs(u), gsd)
    lerp_into(rgb, np.asarray((92, 93, 96), np.float32) * grain[..., None], carriage)
    rails = line_coverage(np.abs(v) - (b - 0.3), 0.3, gsd) * edge(fp.length / 2 - np.abs(u), gsd)
    lerp_into(rgb, np.asarray((70, 70, 72), np.float32), rails)
    dashes = line_coverage(v, 0.15, gsd) * (np.mod(u, 9.0) < 3.0) * carriage
    lerp_into(rgb, WHITE_PAINT, dashes)


def roundabout(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Roundabouts: an asphalt ring around a kerbed grass island."""
    fp = obj.footprint
    r = np.sqrt((xs[None, :] - fp.cx) ** 2 + (ys[:, None] - fp.cy) ** 2)
    island = float(obj.style.get("island", fp.length / 4))
    lerp_into(rgb, np.asarray((92, 93, 96), np.float32) * grain[..., None], fp.coverage(xs, ys, gsd))
    lerp_into(rgb, np.asarray((196, 194, 186), np.float32), edge(island - r, gsd))
    grass = np.asarray((96, 122, 66), np.float32) * (grain * grain)[..., None]
    lerp_into(rgb, grass, edge(island - 0.6 - r, gsd))
    lerp_into(rgb, WHITE_PAINT, line_coverage(r - (fp.length / 2 - 0.5), 0.12, gsd) * 0.8)


def parking(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, gsd: float, obj: SceneObject, light: Light, grain: np.ndarray) -> None:
    """Parking lots: asphalt with painted stall lines on both sides of each aisle."""
    fp = obj.footprint
    u, v = fp.local(xs, ys)
    lerp_into(rgb, np.asarray((98, 99, 102), np.float32) * grain[..., None], fp.coverage(xs, ys, gsd))
    band = np.mod(v + fp.width / 2, 16.0)
    in_stalls = (band < 5.0) | (band > 11.0)
    stalls = line_coverage(np.mod(u + fp.length / 2, 2.6) - 1.3, 0.12, gsd) * in_stalls
    stalls = stalls * edge(fp.length / 2 - np.abs(u), gsd) * edge(fp.width / 2 - np.abs(v), gsd)
    lerp_into(rgb, WHITE_PAINT, stalls * 0.85)


def _nothing(*args: object) -> None:
    return None


PAINTERS: dict[str, Painter] = {
    "warehouse": roof,
    "house": roof,
    "storage tank": tank,
    "swimming pool": pool,
    "tennis court": tennis,
    "basketball court": basketball,
    "vehicle": vehicle,
    "ship": ship,
    "bridge": bridge,
    "roundabout": roundabout,
    "parking": parking,
    "lake": _nothing,  # water is part of the terrain
    "river": _nothing,
}

#: paint order: flat ground objects first, buildings above vehicles, ships over their wakes.
LAYER: dict[str, int] = {
    "parking": 0, "roundabout": 0, "bridge": 1, "tennis court": 1, "basketball court": 1, "swimming pool": 1,
    "vehicle": 2, "ship": 2, "warehouse": 3, "house": 3, "storage tank": 3,
}  # fmt: skip
