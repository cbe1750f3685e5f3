"""``geocrobim batch`` on one machine: a mixed folder end to end, the ledger, the merged
products, refusal/resume/overwrite, a failing scene, and two worker processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import geopandas as gpd
import numpy as np
import psutil
import pytest
import rasterio
from batch_helpers import (
    DST_CRS,
    EXPR,
    SCENE_FILES,
    SCENE_IDS,
    batch_args,
    invoke,
    item_records,
    ledger,
    masks_of,
    read_mask,
    result_files,
    temp_leftovers,
)
from rasterio.windows import from_bounds

from geocrobim.batch import SegmentOptions, collect_items, run_batch

SLUG = "the-white-building"


def test_mixed_folder_gives_one_folder_per_scene_with_the_segment_outputs(reference, archive):
    out, summary = reference["out"], reference["summary"]
    assert (summary["items"], summary["ok"], summary["failed"], summary["skipped"]) == (6, 6, 0, 0)
    scene_dirs = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != "merged")
    assert scene_dirs == SCENE_IDS  # readme.txt and .hidden/ ignored
    for scene_id in SCENE_IDS:
        stem = scene_id.split("-")[-1]
        names = sorted(p.name for p in (out / scene_id).iterdir())
        assert names == sorted(f"{stem}.{SLUG}.{ext}" for ext in SCENE_FILES)
        source = next(archive.rglob(f"{stem}.tif"))
        with rasterio.open(source) as src, rasterio.open(out / scene_id / f"{stem}.{SLUG}.mask.tif") as mask:
            assert (mask.crs, mask.transform, mask.shape) == (src.crs, src.transform, src.shape)
    assert temp_leftovers(out) == []
    assert "6 ok, 0 failed" in reference["stderr"]


def test_ledger_has_one_complete_record_per_scene(reference, archive, checkpoint):
    out = reference["out"]
    records = ledger(out)
    assert [r["type"] for r in records] == ["run"] + ["item"] * 6 + ["end"]
    items = {r["scene_id"]: r for r in records if r["type"] == "item"}
    assert sorted(items) == SCENE_IDS
    for scene_id, record in items.items():
        assert record["status"] == "ok" and record["attempt"] == 1 and record["error"] is None
        assert record["expressions"] == [EXPR]
        assert record["model_id"] == "crobim_test-test-seed0" and len(record["model_hash"]) == 64
        assert record["input_hash"].startswith("quick:")
        assert record["input_size"] == Path(record["scene"]).stat().st_size
        assert record["duration_s"] > 0 and record["started"] <= record["finished"]
        assert set(record["outputs"]) == {p.relative_to(out).as_posix() for p in (out / scene_id).iterdir()}
        (result,) = record["results"]
        assert result["expression"] == EXPR and result["mask"].startswith(f"{scene_id}/")
        assert result["score"] is None or 0 <= result["score"] <= 1
    assert records[0]["options"]["coarse"] is False and records[-1]["ok"] == 6


def test_merged_mask_vrts_cover_their_groups_in_the_target_crs(reference, archive):
    out = reference["out"]
    groups = {p["group"]: p["scene_ids"] for p in reference["summary"]["merged"]}
    assert groups == {"epsg32633-0.5m": [s for s in SCENE_IDS if s != "tile_e"], "epsg32633-1m": ["tile_e"]}
    with rasterio.open(out / "merged" / f"{SLUG}.epsg32633-1m.mask.vrt") as alone:  # the 1 m scene: its own mosaic
        assert alone.res == (1.0, 1.0) and alone.shape == (64, 64)
        np.testing.assert_array_equal(alone.read(1), read_mask(out / "tile_e" / f"tile_e.{SLUG}.mask.tif"))
    vrt = out / "merged" / f"{SLUG}.epsg32633-0.5m.mask.vrt"
    bounds = []
    for tif in sorted(archive.rglob("*.tif")):
        if ".hidden" in tif.parts or tif.stem == "tile_e":
            continue
        with rasterio.open(tif) as src:
            bounds.append(rasterio.warp.transform_bounds(src.crs, DST_CRS, *src.bounds))
    with rasterio.open(vrt) as mosaic:
        assert mosaic.crs.to_epsg() == 32633 and mosaic.nodata == 255 and mosaic.res == (0.5, 0.5)
        left, bottom, right, top = mosaic.bounds
        assert left == pytest.approx(min(b[0] for b in bounds), abs=1.0)
        assert right == pytest.approx(max(b[2] for b in bounds), abs=1.0)
        assert top == pytest.approx(max(b[3] for b in bounds), abs=1.0)
        assert bottom == pytest.approx(min(b[1] for b in bounds), abs=1.0)
        # a scene in the target CRS that no other overlaps reads back exactly through the mosaic
        with rasterio.open(out / "2025-tile_d" / f"tile_d.{SLUG}.mask.tif") as part:
            window = from_bounds(*part.bounds, transform=mosaic.transform)
            assert window.col_off == int(window.col_off) and window.row_off == int(window.row_off)  # on the grid
            np.testing.assert_array_equal(mosaic.read(1, window=window.round_lengths()), part.read(1))
    # the UTM 32N mask was reprojected (nearest) onto the mosaic's grid
    with rasterio.open(out / "merged" / "warped" / "utm32-tile_f" / f"tile_f.{SLUG}.mask.tif") as warped:
        assert warped.crs.to_epsg() == 32633 and warped.res == (0.5, 0.5) and warped.nodata == 255
        assert set(np.unique(warped.read(1))) <= {0, 1, 255} and (warped.transform.c - 480_000) % 0.5 == 0


def test_merged_geopackage_has_every_scene_in_the_dst_crs(reference):
    out = reference["out"]
    layer = gpd.read_file(out / "merged" / f"{SLUG}.epsg32633.gpkg", layer=f"{SLUG}.epsg32633")
    assert layer.crs.to_epsg() == 32633
    per_scene = {}
    for scene_id in SCENE_IDS:
        own = gpd.read_file(next((out / scene_id).glob("*.gpkg")), layer=f"{scene_id.split('-')[-1]}.{SLUG}")
        per_scene[scene_id] = own
    assert len(layer) == sum(len(g) for g in per_scene.values())
    assert set(layer["scene_id"]) == {s for s, g in per_scene.items() if len(g)}
    # the UTM 32N scene's polygons were reprojected; their attributes (area_m2 on the ground) kept
    f_own, f_merged = per_scene["utm32-tile_f"], layer[layer.scene_id == "utm32-tile_f"]
    assert f_own.crs.to_epsg() == 32632 and len(f_own) == len(f_merged) == 1
    expected = f_own.to_crs(DST_CRS).geometry.values
    assert f_merged.geometry.values.geom_equals_exact(expected, tolerance=1e-6).all()
    assert list(f_merged.area_m2) == list(f_own.area_m2)


def test_a_second_run_refuses_then_resume_skips_everything(reference, archive, checkpoint, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference["out"], out)
    refused = invoke(*batch_args(archive, out, checkpoint))
    assert refused.exit_code == 2 and "--resume" in refused.stderr and "Traceback" not in refused.output
    before = {p: p.stat().st_mtime_ns for p in (out / "tile_e").iterdir()}
    resumed = invoke(*batch_args(archive, out, checkpoint, "--resume", "--dst-crs", DST_CRS, "--json"))
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    assert (summary["ok"], summary["skipped"]) == (0, 6)
    assert {p: p.stat().st_mtime_ns for p in (out / "tile_e").iterdir()} == before
    assert len(item_records(out)) == 6  # no new attempt recorded


def test_resume_redoes_a_scene_whose_input_or_options_changed(reference, archive, checkpoint, tmp_path):
    out, src = tmp_path / "out", tmp_path / "archive"
    shutil.copytree(reference["out"], out)
    shutil.copytree(archive, src)
    shutil.copystat(archive / "tile_e.tif", src / "tile_e.tif")  # same content and mtime: still up to date
    for tif in src.rglob("*.tif"):
        shutil.copystat(next(archive.rglob(tif.name)), tif)
    with rasterio.open(src / "tile_e.tif", "r+") as dst:  # new pixels
        dst.write(np.full((3, 64, 64), 200, dtype=np.uint8))
    result = invoke(*batch_args(src, out, checkpoint, "--resume", "--json", "--dst-crs", DST_CRS))
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["ok"], json.loads(result.stdout)["skipped"]) == (1, 5)
    assert item_records(out)[-1]["scene_id"] == "tile_e"
    # other options: every scene is stale
    plan = invoke(*batch_args(src, out, checkpoint, "--resume", "--dry-run", "--min-area", "5"))
    assert plan.exit_code == 0 and json.loads(plan.stdout)["to_run"] == 6


def test_a_corrupt_scene_is_recorded_and_the_others_complete(archive, checkpoint, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(archive / "2024", folder)
    broken = folder / "broken.tif"
    broken.write_bytes((folder / "tile_a.tif").read_bytes()[:2000])
    out = tmp_path / "out"
    result = invoke(*batch_args(folder, out, checkpoint, "--json"))
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["ok"], summary["failed"]) == (2, 1) and summary["failures"][0]["scene_id"] == "broken"
    (failed,) = [r for r in item_records(out) if r["status"] == "failed"]
    assert failed["scene_id"] == "broken" and "broken.tif" in failed["error"] and failed["outputs"] == []
    assert sorted(p.name for p in out.iterdir()) == ["ledger.jsonl", "merged", "tile_a", "tile_b"]
    assert "failed: broken:" in result.stderr and temp_leftovers(out) == []


def test_two_workers_survive_a_killed_worker_and_match_one(reference, archive, checkpoint, tmp_path):
    out = tmp_path / "out"
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        records = item_records(out) if (out / "ledger.jsonl").exists() else []
        if records and not killed:  # kill the worker that just finished: the next item sent to it is lost
            pid = int(records[-1]["worker"].split(":")[1])
            assert pid in {p.pid for p in psutil.Process().children()}
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    items = collect_items([archive], [EXPR])
    summary = run_batch(items, out, options=SegmentOptions(checkpoint=str(checkpoint), device="cpu", coarse=False),
                        workers=2, dst_crs=DST_CRS, progress=progress)
    assert killed and (summary.ok, summary.failed) == (6, 0) and summary.lost >= 1
    records = item_records(out)
    assert sorted(r["scene_id"] for r in records if r["status"] == "ok") == SCENE_IDS
    assert {r["status"] for r in records} == {"ok", "lost"}
    assert len({r["worker"] for r in records if r["worker"]}) >= 2
    assert result_files(out) == result_files(reference["out"]) and temp_leftovers(out) == []
    expected = masks_of(reference["out"])
    for name, mask in masks_of(out).items():
        np.testing.assert_array_equal(mask, expected[name], err_msg=name)
    assert read_mask(out / "tile_e" / f"tile_e.{SLUG}.mask.tif").shape == (64, 64)
