"""The README's main job, as a user runs it, with the shipped model and the sample scene.

This is the product's acceptance test: the model in ``geocrobim/weights/default/``, a fresh
process, ``sample_data/scene.tif``, and the mask COG compared with the ground truth the
generator wrote (``sample_data/scene_gt/000.tif``). The shipped model's scores are
calibrated: its best candidate for the demo sentence is the warehouse, and its calibrated
score says how often such a candidate is the referent on held-out scenes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
DEMO = "the red-roofed warehouse north of the river"
ABSENT = "the roundabout"  # the sample scene has none


def _segment(out: Path, *args: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "geocrobim.cli.main", "segment", str(SAMPLE / "scene.tif"), *args, "-o", str(out), "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_the_best_candidate_for_the_demo_sentence_is_the_warehouse(tmp_path: Path) -> None:
    summary = _segment(tmp_path / "demo", DEMO, "--min-score", "0")
    (entry,) = summary["expressions"]
    with rasterio.open(entry["outputs"]["mask"]) as mask, rasterio.open(SAMPLE / "scene_gt" / "000.tif") as gt:
        assert mask.crs == gt.crs and mask.transform == gt.transform
        found, truth = mask.read(1) == 1, gt.read(1) > 0
    iou = np.logical_and(found, truth).sum() / np.logical_or(found, truth).sum()
    assert iou >= 0.5, f"demo IoU {iou:.3f} < 0.5"
    assert entry["found"] and 0 < entry["score"] < 1
    assert summary["reading"]["coarse"] and summary["reading"]["reading_gsd_m"] == 1.0


def test_an_object_the_scene_does_not_hold_is_not_found(tmp_path: Path) -> None:
    summary = _segment(tmp_path / "absent", ABSENT)
    (entry,) = summary["expressions"]
    assert entry["found"] is False and entry["instances"] == 0 and entry["note"].startswith("not found")
    with rasterio.open(entry["outputs"]["mask"]) as mask:
        assert not (mask.read(1) == 1).any()
