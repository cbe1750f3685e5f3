"""Large synthetic scenes on disk: georeferencing, ground-truth masks, the index, the sample preset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geocrobim.data.synthetic import SAMPLE_EXPRESSION, ObjectTable, sample_layout, write_scene
from geocrobim.data.synthetic.grammar import Filter, Query, RiverSide
from geocrobim.errors import OutputError, UsageError


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("scene") / "scene.tif"
    # 384 px windows over 640 px: a 2 x 2 grid of windows with partial ones on the right and bottom
    index = write_scene(path, size=640, gsd=0.8, seed=3, expressions=4, window=384)
    return path, index


def test_scene_is_georeferenced(scene: tuple[Path, dict]) -> None:
    path, index = scene
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32633
        assert src.res == (0.8, 0.8)
        assert (src.transform.c, src.transform.f) == (390000.0, 5820000.0)
        assert src.transform.e == -0.8 and src.transform.b == 0 and src.transform.d == 0
        assert (src.width, src.height, src.count) == (640, 640, 3) and src.dtypes[0] == "uint8"
        assert src.profile["tiled"] and src.block_shapes[0] == (256, 256)
        assert src.overviews(1) == [2]
        img = src.read()
    assert img.std() > 10  # a textured scene, not a flat fill
    assert index["crs"] == "EPSG:32633" and index["gsd"] == 0.8 and index["transform"][0] == 0.8


def test_masks_match_the_index(scene: tuple[Path, dict]) -> None:
    path, index = scene
    assert len(index["expressions"]) == 4
    targets = set()
    for entry in index["expressions"]:
        with rasterio.open(path.parent / entry["mask"]) as m:
            assert m.crs.to_epsg() == 32633 and m.transform == rasterio.open(path).transform
            mask = m.read(1)
        rows, cols = np.nonzero(mask)
        col, row, w, h = entry["bbox_px"]
        assert (cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1) == (col, row, w, h)
        assert set(np.unique(mask)) == {0, 1}
        assert entry["area_m2"] == pytest.approx(mask.sum() * 0.64)
        left, bottom, right, top = entry["bbox"]
        assert left == pytest.approx(390000.0 + col * 0.8) and top == pytest.approx(5820000.0 - row * 0.8)
        assert right > left and top > bottom
        targets.add(entry["target_id"])
        assert entry["text"]
    assert len(targets) == 4
    on_disk = json.loads(path.with_suffix(".json").read_text())
    assert on_disk["expressions"] == json.loads(json.dumps(index["expressions"]))
    assert "geocrobim synth scene scene.tif --size 640 --gsd 0.8 --seed 3" in on_disk["generator"]


def test_scene_bytes_are_reproducible(scene: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = scene
    again = tmp_path / "scene.tif"
    write_scene(again, size=640, gsd=0.8, seed=3, expressions=4, window=384)
    assert again.read_bytes() == path.read_bytes()
    assert (tmp_path / "scene_gt" / "002.tif").read_bytes() == (path.parent / "scene_gt" / "002.tif").read_bytes()


def test_windows_tile_without_seams(scene: tuple[Path, dict], tmp_path: Path) -> None:
    """The same scene rendered with other windows differs only by sensor noise."""
    path, _ = scene
    other = tmp_path / "other.tif"
    write_scene(other, size=640, gsd=0.8, seed=3, expressions=1, window=640)
    with rasterio.open(path) as a, rasterio.open(other) as b:
        diff = np.abs(a.read().astype(int) - b.read().astype(int))
    assert diff.mean() < 4.0
    # no stripe of larger differences along the window seams at 384 px
    assert diff[:, :, 380:388].mean() < diff.mean() + 2.0 and diff[:, 380:388, :].mean() < diff.mean() + 2.0


def test_sample_preset_is_unique_and_staged() -> None:
    layout, ref = sample_layout(0, 512.0, gsd=0.5)
    assert ref.text == SAMPLE_EXPRESSION
    t = ObjectTable(layout, (0.0, 0.0, 512.0, 512.0), tol=2.0)
    assert ref.query.evaluate(t) == [ref.target_id]
    # the distractors that make it a referring problem: red warehouses south, other colours north
    assert len(Query(Filter("warehouse", colour="red"), RiverSide("south")).evaluate(t)) >= 1
    assert len(Query(Filter("warehouse"), RiverSide("north")).evaluate(t)) >= 3


def test_refuses_bad_outputs(scene: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = scene
    with pytest.raises(OutputError, match="exists"):
        write_scene(path, size=64, seed=1)
    with pytest.raises(UsageError, match=".tif"):
        write_scene(tmp_path / "scene.png")
    with pytest.raises(UsageError, match="not projected"):
        write_scene(tmp_path / "geo.tif", size=64, crs="EPSG:4326")
    with pytest.raises(OutputError, match="does not exist"):
        write_scene(tmp_path / "nope" / "s.tif", size=64)
    assert not list(tmp_path.glob("*.tmp*"))
