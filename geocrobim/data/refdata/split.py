"""Where chips go: a grid per part of the scene, training part and held-out part apart.

The held-out part is a strip along one side of the scene (``--holdout 0.3``: its eastern
30 %) or the user's polygon (``--holdout-polygon``). Each part is tiled on its own with
overlapping chips that lie wholly inside it, so no chip of one part shows a pixel of the
other. A feature crossing the border is therefore never whole in any chip and is never a
target (it is dropped as a target, on both sides); the part of it a chip shows is a
distractor like any feature cut by a chip edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import shapely
import shapely.affinity
from affine import Affine
from rasterio.windows import Window

from geocrobim.errors import UsageError
from geocrobim.raster import Scene

SIDES = ("east", "west", "north", "south")
#: the split name each part is written under (RISBench's split names; ``evaluate --split val``).
TRAIN, HOLDOUT = "train", "val"


@dataclass(frozen=True)
class Chip:
    """One chip: a window of the scene read at the chip's GSD.

    Attributes:
        split: "train" or "val" (the held-out part).
        index: running number within the split.
        col_off: left edge, in scene pixels (may be fractional).
        row_off: top edge, in scene pixels.
        width: width in scene pixels.
        height: height in scene pixels.
        size: side of the chip image in pixels.
        gsd: metres per chip pixel.
    """

    split: str
    index: int
    col_off: float
    row_off: float
    width: float
    height: float
    size: int
    gsd: float

    @property
    def window(self) -> Window:
        """The scene window it reads."""
        return Window(self.col_off, self.row_off, self.width, self.height)

    def transform(self, scene_transform: Affine) -> Affine:
        """Chip pixel -> scene CRS."""
        return (
            scene_transform
            @ Affine.translation(self.col_off, self.row_off)
            @ Affine.scale(self.width / self.size, self.height / self.size)
        )

    def to_metres(self, scene_transform: Affine) -> Affine:
        """Scene CRS -> chip metres (x east, y south from the chip's top-left corner), as the grammar measures."""
        return Affine.scale(self.gsd) @ ~self.transform(scene_transform)

    def bounds(self, scene_transform: Affine) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in the scene's CRS."""
        box = shapely.box(0, 0, self.size, self.size)
        return tuple(float(v) for v in shapely.affinity.affine_transform(box, self.transform(scene_transform).to_shapely()).bounds)  # type: ignore[return-value]

    def name(self, k: int) -> str:
        """File name of the chip's ``k``-th expression (never one of RISBench's known-bad stems)."""
        return f"{self.split}_c{self.index:05d}_{k}.png"

    def to_json(self) -> dict[str, float | int | str]:
        return {"split": self.split, "index": self.index, "col_off": self.col_off, "row_off": self.row_off,
                "width": self.width, "height": self.height, "size": self.size, "gsd": self.gsd}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Chip:
        return cls(str(d["split"]), int(d["index"]), float(d["col_off"]), float(d["row_off"]), float(d["width"]),
                   float(d["height"]), int(d["size"]), float(d["gsd"]))  # fmt: skip


def metres_per_pixel(scene: Scene) -> tuple[float, float]:
    """(x, y) ground size of a scene pixel in metres (geographic CRSs at the scene's centre latitude)."""
    if scene.crs is None:
        raise UsageError(f"{scene.path} has no CRS")
    res_x, res_y = scene.res
    if scene.crs.is_geographic:
        _, bottom, _, top = scene.bounds
        lat = math.radians((bottom + top) / 2.0)
        return res_x * 111_320.0 * math.cos(lat), res_y * 111_320.0
    factor = (scene.gsd_m or 1.0) / (0.5 * (res_x + res_y))
    return res_x * factor, res_y * factor


def plan_chips(
    scene: Scene,
    *,
    size: int,
    gsd: float,
    overlap: float = 0.5,
    holdout: float = 0.25,
    side: str = "east",
    polygon: shapely.Geometry | None = None,
) -> list[Chip]:
    """Chips of both parts, training chips first.

    Args:
        scene: the scene.
        size: chip side in pixels.
        gsd: metres per chip pixel.
        overlap: fraction of a chip shared with its neighbour in each part's grid.
        holdout: fraction of the scene held out, as a strip along ``side`` (ignored with ``polygon``).
        side: which side the strip lies on: east, west, north or south.
        polygon: the held-out area in the scene's CRS, instead of a strip.

    Returns:
        The chips; raises if the held-out part holds none.
    """
    if not 0.0 <= overlap < 1.0:
        raise UsageError(f"--overlap {overlap} must be in [0, 1)")
    if side not in SIDES:
        raise UsageError(f"--holdout-side {side!r}; use one of {', '.join(SIDES)}")
    mx, my = metres_per_pixel(scene)
    cw, ch = size * gsd / mx, size * gsd / my  # chip in scene pixels
    width, height = float(scene.width), float(scene.height)
    if cw > width + 1e-6 or ch > height + 1e-6:
        raise UsageError(
            f"the scene ({scene.width} x {scene.height} px) is smaller than one chip ({size} px at {gsd:g} m = "
            f"{cw:.0f} x {ch:.0f} scene px); use a smaller --size or a finer --gsd"
        )
    if polygon is not None:
        inv = ~scene.transform
        area_px = shapely.affinity.affine_transform(polygon, inv.to_shapely())
        x0, y0, x1, y1 = area_px.bounds
        held = _tile(max(0.0, x0), max(0.0, y0), min(width, x1), min(height, y1), cw, ch, overlap)
        held = [r for r in held if area_px.buffer(1e-6).contains(shapely.box(*r))]
        train = [r for r in _tile(0, 0, width, height, cw, ch, overlap) if not area_px.intersects(shapely.box(*r))]
        where = "the holdout polygon"
    else:
        if not 0.0 < holdout < 1.0:
            raise UsageError(f"--holdout {holdout} must be a fraction between 0 and 1, e.g. 0.3")
        if side in ("east", "west"):
            cut = width * (1 - holdout) if side == "east" else width * holdout
            west, east = (0.0, 0.0, cut, height), (cut, 0.0, width, height)
            train_box, held_box = (west, east) if side == "east" else (east, west)
        else:
            cut = height * holdout if side == "north" else height * (1 - holdout)
            north, south = (0.0, 0.0, width, cut), (0.0, cut, width, height)
            train_box, held_box = (south, north) if side == "north" else (north, south)
        held = _tile(*held_box, cw, ch, overlap)
        train = _tile(*train_box, cw, ch, overlap)
        where = f"the {side}ern {holdout:g} of the scene"
    if not held:
        raise UsageError(
            f"{where} holds no whole chip of {size} px at {gsd:g} m ({cw:.0f} x {ch:.0f} scene px); "
            "hold out a larger part (--holdout) or use smaller chips (--size)"
        )
    if not train:
        raise UsageError(f"what is left outside {where} holds no whole chip; hold out a smaller part")
    chips = [Chip(TRAIN, i, c0, r0, cw, ch, size, gsd) for i, (c0, r0, _, _) in enumerate(train)]
    chips += [Chip(HOLDOUT, i, c0, r0, cw, ch, size, gsd) for i, (c0, r0, _, _) in enumerate(held)]
    return chips


def _tile(
    x0: float, y0: float, x1: float, y1: float, cw: float, ch: float, overlap: float
) -> list[tuple[float, float, float, float]]:
    """Boxes (c0, r0, c1, r1) of cw x ch tiling [x0, x1] x [y0, y1], the last ones flush with the far edges."""
    cols, rows = _starts(x0, x1, cw, overlap), _starts(y0, y1, ch, overlap)
    return [(c, r, c + cw, r + ch) for r in rows for c in cols]


def _starts(lo: float, hi: float, length: float, overlap: float) -> list[float]:
    span = hi - lo
    if span < length - 1e-6:
        return []
    step = max(1.0, length * (1 - overlap))
    n = max(1, math.ceil((span - length) / step - 1e-9) + 1)
    first, last = math.ceil(lo - 1e-6), math.floor(hi - length + 1e-6)  # whole scene pixels: plain reads
    if last < first:
        return [lo]
    if n == 1:
        return [float(first)]
    # evenly spread between the two edges (no sliver of a last chip)
    return sorted({float(round(first + i * (last - first) / (n - 1))) for i in range(n)})
