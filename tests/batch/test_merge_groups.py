"""Merged products of scenes in two CRSs and at two pixel sizes, through the CLI: one mosaic
per group of CRS and pixel size, none for scenes far apart, the grouping in the summary."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from batch_helpers import EXPR, batch_args, invoke, write_geotiff
from pyproj import Transformer
from rasterio.windows import from_bounds

SLUG = "the-white-building"
SIZE = 64  # pixels a side of every scene
#: scene id -> (CRS, pixel size, upper-left corner)
_C_CORNER = (479_700.0, 5_120_300.0)
_E_CORNER = tuple(round(v) for v in Transformer.from_crs("EPSG:32633", "EPSG:32634", always_xy=True).transform(*_C_CORNER))
SCENES: dict[str, tuple[str, float, tuple[float, float]]] = {
    "a1": ("EPSG:32633", 0.5, (480_000.0, 5_120_000.0)),
    "a2": ("EPSG:32633", 0.5, (480_032.0, 5_120_000.0)),  # a1's eastern neighbour
    "c": ("EPSG:32633", 9.5, _C_CORNER),  # covers a1 and a2: one grid would take it to 0.5 m
    "d1": ("EPSG:32634", 0.5, (300_000.0, 5_000_000.0)),
    "d2": ("EPSG:32634", 0.5, (700_000.0, 5_400_000.0)),  # 400 km from d1: no mosaic
    "e1": ("EPSG:32634", 9.5, _E_CORNER),  # c's place, in the next UTM zone
    "e2": ("EPSG:32634", 9.5, (_E_CORNER[0] + SIZE * 9.5, _E_CORNER[1])),
}
GROUPS = {
    "epsg32633-0.5m": ["a1", "a2"], "epsg32633-9.5m": ["c"],
    "epsg32634-0.5m": ["d1", "d2"], "epsg32634-9.5m": ["e1", "e2"],
}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path) -> dict[str, Any]:
    """The seven scenes, and one batch run over them without --dst-crs."""
    root = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(7)
    for scene_id, (crs, res, (x, y)) in SCENES.items():
        data = rng.integers(20, 60, (3, SIZE, SIZE)).astype("uint8")
        data[:, 16:40, 20:44] = 220  # a bright block
        write_geotiff(root / "scenes" / f"{scene_id}.tif", data, transform=(res, 0, x, 0, -res, y), crs=crs)
    out = root / "out"
    result = invoke(*batch_args(root / "scenes", out, checkpoint, "--json"))
    assert result.exit_code == 0, result.output
    return {"root": root, "out": out, "summary": json.loads(result.stdout), "stderr": result.stderr}


def _sources(vrt: Path) -> list[str]:
    """The files a VRT mosaic reads, by name."""
    return sorted(Path(e.text or "").name for e in ET.parse(vrt).getroot().iter("SourceFilename"))


def _scene_mask(out: Path, scene_id: str) -> Path:
    return out / scene_id / f"{scene_id}.{SLUG}.mask.tif"


def test_each_crs_and_pixel_size_gets_its_own_mosaic(mixed):
    out, products = mixed["out"], mixed["summary"]["merged"]
    assert {p["group"]: p["scene_ids"] for p in products} == GROUPS
    assert all(p["expression"] == EXPR for p in products)
    for product in products:
        if product["mask"] is None:
            continue
        crs, res, _ = SCENES[product["scene_ids"][0]]
        vrt = Path(product["mask"])
        assert vrt.name == f"{SLUG}.{product['group']}.mask.vrt" and vrt.parent == out / "merged"
        assert (product["crs"], product["resolution"]) == (crs, [res, res])
        assert _sources(vrt) == sorted(_scene_mask(out, s).name for s in product["scene_ids"])  # only its group's
        with rasterio.open(vrt) as mosaic:
            assert mosaic.crs.to_string() == crs and mosaic.res == (res, res)
            assert (mosaic.width, mosaic.height) == (SIZE * len(product["scene_ids"]), SIZE)  # neighbours side by side
            for scene_id in product["scene_ids"]:  # every scene reads back exactly, nothing resampled
                with rasterio.open(_scene_mask(out, scene_id)) as part:
                    window = from_bounds(*part.bounds, transform=mosaic.transform).round_offsets().round_lengths()
                    np.testing.assert_array_equal(mosaic.read(1, window=window), part.read(1), err_msg=scene_id)
    assert not (out / "merged" / "warped").exists()  # without --dst-crs nothing is reprojected


def test_scenes_far_apart_get_no_mosaic_and_one_line_why(mixed):
    out, products = mixed["out"], mixed["summary"]["merged"]
    (far,) = [p for p in products if p["mask"] is None]
    assert far["group"] == "epsg32634-0.5m" and "far apart" in far["mask_skipped"]
    assert not list((out / "merged").glob("*epsg32634-0.5m*"))
    lines = [line for line in mixed["stderr"].splitlines() if "far apart" in line]
    assert len(lines) == 2  # the warning when it happens, and the group's line in the summary
    assert "epsg32634-0.5m" in lines[0] and "no mosaic" in lines[0]
    assert f"merged {EXPR!r} [EPSG:32634, 0.5 m, 2 scene(s)]: no mosaic, its 2 scenes are far apart" in lines[1]


def test_polygons_are_merged_per_crs(mixed):
    out, products = mixed["out"], mixed["summary"]["merged"]
    for epsg, scene_ids in ((32633, ["a1", "a2", "c"]), (32634, ["d1", "d2", "e1", "e2"])):
        path = out / "merged" / f"{SLUG}.epsg{epsg}.gpkg"
        assert {p["vector"] for p in products if p["crs"] == f"EPSG:{epsg}"} == {str(path)}
        layer = gpd.read_file(path, layer=path.stem)
        own = {s: gpd.read_file(out / s / f"{s}.{SLUG}.gpkg", layer=f"{s}.{SLUG}") for s in scene_ids}
        assert layer.crs.to_epsg() == epsg and len(layer) == sum(len(g) for g in own.values())
        assert set(layer["scene_id"]) == {s for s, g in own.items() if len(g)}


def test_merging_shows_progress(mixed):
    steps = 2 * 2 + 2 + 2 + 2 * 2  # a mask and a vector file per scene; the skipped mosaic's masks are not read
    assert re.search(rf"merge: 100%.*\b{steps}/{steps} ", mixed["stderr"]), mixed["stderr"]


def test_dst_crs_reprojects_each_scene_at_its_own_pixel_size(mixed, checkpoint, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(mixed["out"], out)
    result = invoke(*batch_args(mixed["root"] / "scenes", out, checkpoint, "--merge-only", "--dst-crs", "EPSG:32633",
                                "--json"))
    assert result.exit_code == 0, result.output
    products = {p["group"]: p for p in json.loads(result.stdout)}
    assert {g: p["scene_ids"] for g, p in products.items()} == {
        "epsg32633-0.5m": ["a1", "a2", "d1", "d2"], "epsg32633-9.5m": ["c", "e1", "e2"]}
    assert products["epsg32633-0.5m"]["mask"] is None  # d1, d2 are 400 km from a1, a2 and from each other
    vrt = Path(products["epsg32633-9.5m"]["mask"])
    with rasterio.open(vrt) as mosaic, rasterio.open(_scene_mask(out, "c")) as c:
        assert mosaic.crs.to_epsg() == 32633 and mosaic.res == (9.5, 9.5)  # e1, e2 stay at 9.5 m, on c's grid
        offset = ((mosaic.transform.c - c.transform.c) / 9.5, (c.transform.f - mosaic.transform.f) / 9.5)
        assert offset == pytest.approx(tuple(round(v) for v in offset), abs=1e-6)  # on c's grid
        assert mosaic.width < 3 * SIZE and mosaic.height < 2 * SIZE  # c and e1/e2 lie on one another
    for scene_id in ("e1", "e2"):
        with rasterio.open(out / "merged" / "warped" / scene_id / f"{scene_id}.{SLUG}.mask.tif") as warped:
            assert warped.crs.to_epsg() == 32633 and warped.res == (9.5, 9.5)
    # what the earlier merge wrote and this one does not is gone: the UTM 34 products, the 0.5 m mosaic
    assert sorted(p.name for p in (out / "merged").iterdir() if p.is_file()) == [
        f"{SLUG}.epsg32633-9.5m.mask.vrt", f"{SLUG}.epsg32633.gpkg", f"{SLUG}.epsg32633.qml"]
