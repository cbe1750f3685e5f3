"""The README's main job, as a user runs it: `make demo` must find the warehouse.

This is the product's acceptance test: the shipped model in ``geocrobim/weights/default/``,
default options, a fresh process, the sample scene, and the mask COG compared with the
ground truth the generator wrote (``sample_data/scene_gt/000.tif``).
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


def test_make_demo_finds_the_warehouse(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "geocrobim.cli.main", "segment", str(SAMPLE / "scene.tif"), DEMO, "-o", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    (entry,) = summary["expressions"]
    with rasterio.open(entry["outputs"]["mask"]) as mask, rasterio.open(SAMPLE / "scene_gt" / "000.tif") as gt:
        assert mask.crs == gt.crs and mask.transform == gt.transform
        found, truth = mask.read(1) == 1, gt.read(1) > 0
    iou = np.logical_and(found, truth).sum() / np.logical_or(found, truth).sum()
    assert iou >= 0.5, f"demo IoU {iou:.3f} < 0.5"
    assert summary["reading"]["coarse"] and summary["reading"]["reading_gsd_m"] == 1.0
