"""Builders that fill one parcel according to its land use."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from geocrobim.data.synthetic.makers import add_colour, add_vehicle, trees, vehicle_footprint
from geocrobim.data.synthetic.objects import Layout
from geocrobim.data.synthetic.placement import Occupancy, Region, reserve, try_place
from geocrobim.data.synthetic.shapes import Footprint, Kind

Builder = Callable[[np.random.Generator, Layout, Region, Occupancy], None]

POOL_RGB = ((70, 170, 196), (88, 186, 206), (60, 150, 186), (96, 196, 214))


def _jitter(rng: np.random.Generator, angle: float) -> float:
    """The region's direction, turned by 0 or 90 degrees, plus a hair of noise."""
    return angle + float(rng.choice([0.0, math.pi / 2])) * (rng.random() < 0.25) + float(rng.normal(0, 0.02))


def building(rng: np.random.Generator, category: str, x: float, y: float, angle: float) -> tuple[Footprint, str, str]:
    """A warehouse or house footprint with its size mode and form word."""
    large = rng.random() < (0.45 if category == "warehouse" else 0.3)
    if category == "warehouse":
        length = float(rng.uniform(50, 110) if large else rng.uniform(18, 34))
        width = length * float(rng.uniform(0.4, 0.62))
    else:
        length = float(rng.uniform(15, 21) if large else rng.uniform(8.5, 12.5))
        width = length * float(rng.uniform(0.62, 0.8))
    r = rng.random()
    if r < 0.2:
        notch = (float(rng.uniform(0.35, 0.55)), float(rng.uniform(0.4, 0.55)))
        return Footprint("lshape", x, y, length, width, angle, notch=notch), "large" if large else "small", "L-shaped"
    if category == "warehouse" and r < 0.35:
        return Footprint("box", x, y, length * 0.75, length * 0.72, angle), "large" if large else "small", "square"
    return Footprint("box", x, y, length, width, angle), "large" if large else "small", "rectangular"


def add_building(
    rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy, category: str, *, at: tuple[float, float] | None = None
) -> bool:
    """Place one warehouse or house; return whether it fitted."""
    angle = _jitter(rng, region.angle) if category == "warehouse" else region.angle + float(rng.normal(0, 0.015))
    for _ in range(1 if at else 12):
        x, y = at if at else region.random_point(rng)
        fp, size, form = building(rng, category, x, y, angle)
        if reserve(region, occ, fp, gap=4.0 if category == "warehouse" else 2.5):
            break
    else:
        return False
    colour, rgb = add_colour(rng, category)
    roof = "flat" if category == "warehouse" and rng.random() < 0.4 else "hip" if rng.random() < 0.35 else "gable"
    height = float(rng.uniform(7, 14) if category == "warehouse" else rng.uniform(6, 9))
    style = {"rgb": rgb, "roof": roof, "skylights": bool(category == "warehouse" and rng.random() < 0.4)}
    layout.add(category, fp, colour=colour, size=size, form=form, height=height, style=style)
    return True


def tank_farm(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """A grid of storage tanks of one size mode, mostly one colour."""
    large = rng.random() < 0.4
    rows, cols = int(rng.integers(1, 3 if large else 4)), int(rng.integers(2, 4 if large else 5))
    for _ in range(6):
        diam = float(rng.uniform(22, 38) if large else rng.uniform(8, 16))
        step = diam * float(rng.uniform(1.3, 1.7))
        x, y = region.random_point(rng)
        c, s = math.cos(region.angle), math.sin(region.angle)
        spots = [
            (x + (i - (cols - 1) / 2) * step * c - (j - (rows - 1) / 2) * step * s,
             y + (i - (cols - 1) / 2) * step * s + (j - (rows - 1) / 2) * step * c)
            for j in range(rows) for i in range(cols)
        ]  # fmt: skip
        fps = [Footprint("circle", px, py, diam, diam) for px, py in spots]
        if all(region.contains(f.polygon) and occ.free(f.polygon, 2.0) for f in fps):
            break
    else:
        return
    farm_colour = None if rng.random() < 0.3 else add_colour(rng, "storage tank")[0]
    for fp in fps:
        occ.add(fp.polygon)
        colour, rgb = add_colour(rng, "storage tank", farm_colour)
        style = {"rgb": rgb, "floating": bool(rng.random() < 0.35)}
        layout.add("storage tank", fp, colour=colour, size="large" if large else "small", form="round",
                   height=min(diam * float(rng.uniform(0.5, 0.9)), 20.0), style=style)  # fmt: skip


def parking(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """An asphalt parking lot with rows of stalls, partly filled with cars."""
    angle = region.angle
    length, bands = float(rng.uniform(20, 60)), int(rng.integers(1, 4))
    depth = bands * 16.0
    fp = try_place(rng, region, occ, lambda x, y: Footprint("box", x, y, length, depth, angle), attempts=10)
    if fp is None:
        return
    layout.add("parking", fp, style={"bands": bands})
    fill = rng.uniform(0.3, 0.9)
    c, s = math.cos(angle), math.sin(angle)
    for b in range(bands):
        for v in (-depth / 2 + 16.0 * b + 2.5, -depth / 2 + 16.0 * b + 13.5):  # two stall rows per aisle
            for u in np.arange(-length / 2 + 1.3, length / 2 - 1.3, 2.6):
                if rng.random() > fill:
                    continue
                x, y = fp.cx + u * c - v * s, fp.cy + u * s + v * c
                car = Footprint("box", x, y, float(rng.uniform(4.2, 4.8)), float(rng.uniform(1.75, 1.9)),
                                angle + math.pi / 2 + float(rng.normal(0, 0.04)))  # fmt: skip
                add_vehicle(rng, layout, car, "small", "parking")


def court(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy, kind: str, count: int) -> None:
    """A row of tennis or basketball courts, side by side."""
    length, width = (36.6, 18.3) if kind == "tennis court" else (32.0, 19.0)
    angle = _jitter(rng, region.angle)
    colour = add_colour(rng, kind)[0] if rng.random() < 0.6 else None
    c, s = math.cos(angle), math.sin(angle)
    x, y = region.random_point(rng)
    for i in range(count):
        at = (x - s * i * (width + 1.0), y + c * i * (width + 1.0))
        fp = try_place(rng, region, occ, lambda x, y: Footprint("box", x, y, length, width, angle), at=at, gap=0.5)
        if fp is None:
            continue
        name, rgb = add_colour(rng, kind, colour)
        style = {"rgb": rgb, "surround": [v * 0.8 for v in rgb] if rng.random() < 0.5 else [150.0, 70.0, 55.0]}
        layout.add(kind, fp, colour=name, form="rectangular", style=style)


def pool(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy, x: float, y: float, angle: float) -> None:
    """A swimming pool near (x, y), rectangular or oval."""
    oval = rng.random() < 0.35
    length, width = float(rng.uniform(7, 13)), float(rng.uniform(3.5, 6))
    kind: Kind = "ellipse" if oval else "box"
    fp = try_place(rng, region, occ, lambda x, y: Footprint(kind, x, y, length, width, angle), at=(x, y), gap=1.0)
    if fp is not None:
        rgb = [float(c) for c in POOL_RGB[int(rng.integers(len(POOL_RGB)))]]
        layout.add("swimming pool", fp, form="oval" if oval else "rectangular",
                   size="large" if length > 11 else "small" if length < 9 else None, style={"rgb": rgb})  # fmt: skip


def yard(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """Industrial parcel: warehouses, maybe a tank farm, parking, trucks."""
    area = region.geom.area
    if area > 2500 and rng.random() < 0.45:
        tank_farm(rng, layout, region, occ)
    for _ in range(int(np.clip(area / 2200, 1, 14))):
        add_building(rng, layout, region, occ, "warehouse")
    if rng.random() < 0.5:
        parking(rng, layout, region, occ)
    for _ in range(int(rng.integers(0, 4))):
        x, y = region.random_point(rng)
        fp, size = vehicle_footprint(rng, x, y, region.angle + float(rng.choice([0.0, math.pi / 2])))
        if region.contains(fp.polygon) and occ.free(fp.polygon, 1.5):
            occ.add(fp.polygon)
            add_vehicle(rng, layout, fp, size, "yard")
    trees(rng, layout, region, occ, int(rng.integers(0, 6)))


def lawn(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """Residential parcel: rows of houses, pools behind some, trees, sometimes a court."""
    step_u, step_v = float(rng.uniform(16, 26)), float(rng.uniform(24, 34))
    pools = rng.uniform(0.1, 0.45)
    c, s = math.cos(region.angle), math.sin(region.angle)
    for x, y in region.grid(rng, step_u, step_v):
        if rng.random() < 0.15 or not add_building(rng, layout, region, occ, "house", at=(x, y)):
            continue
        if rng.random() < pools:
            back = float(rng.uniform(9, 12))
            pool(rng, layout, region, occ, x - s * back, y + c * back, region.angle)
    if region.geom.area > 2000 and rng.random() < 0.2:
        court(rng, layout, region, occ, str(rng.choice(["tennis court", "basketball court"])), int(rng.integers(1, 3)))
    trees(rng, layout, region, occ, int(region.geom.area / rng.uniform(150, 600)))


def sports(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """Sports parcel: groups of courts, parking, trees."""
    for _ in range(int(rng.integers(1, 4))):
        court(rng, layout, region, occ, str(rng.choice(["tennis court", "basketball court"])), int(rng.integers(1, 5)))
    if rng.random() < 0.5:
        parking(rng, layout, region, occ)
    trees(rng, layout, region, occ, int(region.geom.area / 500))


def lake(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """A blob-shaped lake of a size mode and a form."""
    large = rng.random() < 0.45
    a = float(rng.uniform(40, 90) if large else rng.uniform(12, 28))
    elongated = rng.random() < 0.4
    b = a * float(rng.uniform(0.35, 0.55) if elongated else rng.uniform(0.85, 1.0))
    angle = float(rng.uniform(0, math.pi))
    t = np.linspace(0, 2 * np.pi, 49)[:-1]
    wobble = 1 + sum(rng.uniform(0, 0.06) * np.sin(k * t + rng.uniform(0, 6.3)) for k in range(2, 6))
    u, v = a * wobble * np.cos(t), b * wobble * np.sin(t)

    def make(x: float, y: float) -> Footprint:
        import shapely

        xy = np.column_stack([x + u * math.cos(angle) - v * math.sin(angle), y + u * math.sin(angle) + v * math.cos(angle)])
        return Footprint("polygon", x, y, 2 * a, 2 * b, angle, geom=shapely.Polygon(xy))

    fp = try_place(rng, region, occ, make, attempts=10, gap=4.0)
    if fp is not None:
        form = "elongated" if elongated else "round"
        layout.add("lake", fp, size="large" if large else "small", form=form, style={})


def grass(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """Meadow or park: maybe a lake, scattered trees."""
    if region.geom.area > 3000 and rng.random() < 0.35:
        lake(rng, layout, region, occ)
    trees(rng, layout, region, occ, int(region.geom.area / rng.uniform(300, 1500)))


def forest(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """Forest (its canopy is a texture); sometimes a pond."""
    if region.geom.area > 3000 and rng.random() < 0.2:
        lake(rng, layout, region, occ)


def farm(rng: np.random.Generator, layout: Layout, region: Region, occ: Occupancy) -> None:
    """Crop field; now and then a farmstead with a barn and houses."""
    if region.geom.area > 4000 and rng.random() < 0.15:
        x, y = region.random_point(rng)
        if add_building(rng, layout, region, occ, "warehouse", at=(x, y)):
            for _ in range(int(rng.integers(1, 3))):
                add_building(rng, layout, region, occ, "house")
            trees(rng, layout, region, occ, int(rng.integers(2, 8)))


BUILDERS: dict[str, Builder] = {
    "yard": yard,
    "lawn": lawn,
    "sports": sports,
    "grass": grass,
    "forest": forest,
    "crop": farm,
    "ripe": farm,
    "ploughed": farm,
}
