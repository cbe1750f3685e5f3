"""The README scene: IoU of each of sample_data's five expressions, and the demo's wall time.

    python bench/sample_scene.py [--checkpoint default] [--tta] [--json OUT]

Runs ``geocrobim segment`` as a user does (a fresh process, the CLI, default options) on
``sample_data/scene.tif`` (2048 x 2048, 0.5 m, EPSG:32633), once per expression of
``sample_data/scene.json``, and compares each mask COG with its ground truth in
``sample_data/scene_gt/``. The first expression is the README's ("the red-roofed
warehouse north of the river"); its run is the ``make demo`` time. The last line is the
summary: how many of the five reach IoU >= 0.5 (the target: at least 4, the demo included).

The runs pass ``--min-score 0``: the IoU measures where the model's best candidate is, also
when a calibrated model would answer "not found" under its threshold; ``found`` says what the
default would have answered (the calibrated score against the model's threshold).
``--tta`` passes ``--tta`` to every run (the flip ensemble).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
FOUND_IOU = 0.5


def iou(mask: Path, truth: Path) -> float:
    """IoU of the mask COG's value-1 pixels against the ground truth's non-zero pixels."""
    with rasterio.open(mask) as out, rasterio.open(truth) as gt:
        pred, target = out.read(1) == 1, gt.read(1) > 0
    return float(np.logical_and(pred, target).sum() / max(np.logical_or(pred, target).sum(), 1))


def model_threshold(checkpoint: str) -> float:
    """The checkpoint's "not found" threshold (0 without a calibration)."""
    from geocrobim.inference.calibration import ScoreCalibration
    from geocrobim.models.checkpoint import resolve_checkpoint

    metadata = json.loads((resolve_checkpoint(checkpoint) / "metadata.json").read_text())
    calibration = ScoreCalibration.from_metadata(metadata)
    return 0.0 if calibration is None else calibration.threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--tta", action="store_true", help="segment --tta: the flip ensemble")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    index = json.loads((SAMPLE / "scene.json").read_text())
    threshold = model_threshold(args.checkpoint)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in index["expressions"]:
            out = Path(tmp) / str(entry["index"])
            start = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-m", "geocrobim.cli.main", "segment", str(SAMPLE / "scene.tif"), entry["text"],
                 "-o", str(out), "--checkpoint", args.checkpoint, "--json", "--min-score", "0",
                 *(["--tta"] if args.tta else [])],  # fmt: skip
                capture_output=True, text=True,
            )
            seconds = time.perf_counter() - start
            if run.returncode:
                sys.exit(f"segment failed on {entry['text']!r}: {run.stderr.strip().splitlines()[-1]}")
            summary = json.loads(run.stdout)
            (mask,) = out.glob("*mask*.tif")
            value = iou(mask, SAMPLE / entry["mask"])
            score = summary["expressions"][0]["score"]
            found = score is not None and score >= threshold
            rows.append({"expression": entry["text"], "category": entry["category"], "iou": round(value, 3),
                         "score": score, "found_by_default": found, "seconds": round(seconds, 1)})  # fmt: skip
            print(f"{value:5.3f}  {seconds:5.1f} s  score {score}  {'found' if found else 'not found'} by default  {entry['text']}")
    found = sum(r["iou"] >= FOUND_IOU for r in rows)
    if args.json:
        args.json.write_text(json.dumps({"checkpoint": args.checkpoint, "tta": args.tta, "rows": rows}, indent=1) + "\n")
    print(f"summary: {found}/{len(rows)} expressions at IoU >= {FOUND_IOU}; demo IoU {rows[0]['iou']:.3f} "
          f"in {rows[0]['seconds']:.1f} s; mean IoU {np.mean([r['iou'] for r in rows]):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
