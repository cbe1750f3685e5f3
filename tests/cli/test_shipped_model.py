"""The shipped default model finds what the README asks, through the real CLI (``make demo``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import rasterio

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _iou(mask_path: Path, truth_path: Path) -> float:
    with rasterio.open(mask_path) as out, rasterio.open(truth_path) as gt:
        assert out.crs == gt.crs and out.transform == gt.transform
        pred, truth = out.read(1) == 1, gt.read(1) > 0
    return float((pred & truth).sum() / max((pred | truth).sum(), 1))


def test_demo_finds_the_red_roofed_warehouse(tmp_path: Path) -> None:
    index = json.loads((SAMPLE / "scene.json").read_text())["expressions"][0]
    assert index["text"] == "the red-roofed warehouse north of the river"
    out = tmp_path / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "geocrobim.cli.main", "segment", str(SAMPLE / "scene.tif"), index["text"],
         "-o", str(out), "--json"],  # fmt: skip
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    masks = sorted(out.glob("*mask*.tif"))
    assert len(masks) == 1, sorted(p.name for p in out.iterdir())
    assert _iou(masks[0], SAMPLE / index["mask"]) >= 0.5
