"""Grouping merged products by CRS and pixel size, their names, and the far-apart rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasterio.crs import CRS

from geocrobim.batch.groups import SPARSE_MIN_PIXELS, Placed, group_scenes, resolution_text

UTM33 = CRS.from_epsg(32633)


def scene(scene_id: str, res: float | tuple[float, float], left: float = 0.0, top: float = 0.0, size: int = 100,
          crs: CRS = UTM33, native: bool = True) -> Placed:
    rx, ry = (res, res) if isinstance(res, float) else res
    bounds = (left, top - size * ry, left + size * rx, top)
    return Placed(scene_id, Path(f"{scene_id}.mask.tif"), Path(f"{scene_id}.gpkg"), crs, (rx, ry), bounds, native)


def tags(groups) -> dict[str, list[str]]:
    return {g.tag: [m.scene_id for m in g.members] for g in groups}


def test_pixel_sizes_within_ten_percent_share_a_group():
    scenes = [scene("a", 0.5), scene("b", 0.503, native=False), scene("c", 1.0), scene("d", 9.5), scene("e", 10.0),
              scene("f", 30.0)]
    assert tags(group_scenes(scenes)) == {
        "epsg32633-0.5m": ["a", "b"], "epsg32633-1m": ["c"], "epsg32633-9.5m": ["d", "e"], "epsg32633-30m": ["f"]}


def test_the_grid_is_the_finest_scene_already_in_the_crs():
    (group,) = group_scenes([scene("warped", 0.498, native=False), scene("own", 0.5), scene("own2", 0.52)])
    assert group.anchor.scene_id == "own" and group.res == (0.5, 0.5) and group.tag == "epsg32633-0.5m"
    (alone,) = group_scenes([scene("w1", 0.52, native=False), scene("w2", 0.51, native=False)])
    assert alone.res == (0.51, 0.51)


def test_crss_never_share_a_group_and_names_tell_them_apart():
    custom = CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=13.1 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m")
    groups = group_scenes([scene("a", 0.5), scene("b", 0.5, crs=CRS.from_epsg(32634)), scene("c", 0.5, crs=custom),
                           scene("d", (1e-5, 1e-5), crs=CRS.from_epsg(4326)), scene("e", (0.5, 0.25))])
    names = tags(groups)
    assert names["epsg32633-0.5m"] == ["a"] and names["epsg32634-0.5m"] == ["b"] and names["epsg4326-0.00001deg"] == ["d"]
    assert names["epsg32633-0.5x0.25m"] == ["e"]
    (custom_tag,) = [t for t in names if t.startswith("crs-")]
    assert len(custom_tag) == len("crs-12345678-0.5m") and names[custom_tag] == ["c"]
    assert resolution_text((0.5, 0.5), UTM33) == "0.5 m" and resolution_text((1e-4, 1e-4), CRS.from_epsg(4326)) == "0.0001 deg"


@pytest.mark.parametrize(
    ("layout", "sparse"),
    [
        ([(0, 0), (50, 0)], False),  # neighbours
        ([(0, 0), (50, -50)], False),  # diagonal neighbours: twice the area they cover
        ([(0, 0), (5_000, -5_000)], False),  # far apart, but the mosaic is small (10100 x 10100 px)
        ([(0, 0), (20_000, -20_000)], True),  # far apart and over 16384 x 16384 px
        ([(x, 0) for x in range(0, 20_000, 50)], False),  # 400 scenes in a row: they tile a strip
    ],
)
def test_far_apart_means_mostly_empty_and_big(layout, sparse):
    (group,) = group_scenes([scene(f"s{n}", 0.5, x, y) for n, (x, y) in enumerate(layout)])
    reason = group.sparse_reason()
    assert (reason is not None) == sparse
    if sparse:
        width, height = group.grid_shape()
        assert width * height > SPARSE_MIN_PIXELS and "far apart" in reason and f"{width} x {height} px" in reason
