"""Reliability diagram of a checkpoint's score calibration, from ``geocrobim calibrate --json``.

    geocrobim -q calibrate default --scenes 20 --dry-run --json > calibration.json
    python bench/reliability_plot.py calibration.json docs/images/reliability.png

Draws, for the held-out half of the calibration scenes, observed frequency of "this
instance is the referent" against the predicted score, per 0.1 bin, for the raw scores
(fine x coarse, grey) and the calibrated ones (blue); left: every component, right: the best
instance of each expression (what a user is shown). Marker area grows with the bin's count.
Pillow only. The last line is the summary: the ECE ratio, calibrated / raw.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

PANEL = 360
MARGIN = 48
GREY, BLUE, INK, GRID = (150, 150, 150), (40, 110, 200), (30, 30, 30), (225, 225, 225)


def _panel(draw: ImageDraw.ImageDraw, x0: int, y0: int, title: str, series: list[tuple[list[dict[str, Any]], tuple[int, int, int]]]) -> None:
    font = ImageFont.load_default()
    draw.rectangle([x0, y0, x0 + PANEL, y0 + PANEL], outline=INK)
    for t in range(1, 10):
        v = t / 10
        draw.line([x0 + v * PANEL, y0, x0 + v * PANEL, y0 + PANEL], fill=GRID)
        draw.line([x0, y0 + PANEL - v * PANEL, x0 + PANEL, y0 + PANEL - v * PANEL], fill=GRID)
    draw.line([x0, y0 + PANEL, x0 + PANEL, y0], fill=INK)  # perfect calibration
    for rows, colour in series:
        for r in rows:
            cx, cy = x0 + r["predicted"] * PANEL, y0 + PANEL - r["observed"] * PANEL
            radius = 2 + 2 * math.log2(1 + r["count"])
            draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=colour, width=2)
    draw.text((x0, y0 - 16), title, fill=INK, font=font)
    draw.text((x0 + PANEL / 2 - 40, y0 + PANEL + 8), "predicted score", fill=INK, font=font)
    draw.text((x0 - 40, y0 + PANEL + 8), "0", fill=INK, font=font)
    draw.text((x0 + PANEL - 8, y0 + PANEL + 8), "1", fill=INK, font=font)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="geocrobim calibrate --json output")
    parser.add_argument("out", type=Path, help="PNG to write")
    args = parser.parse_args()
    report = json.loads(args.report.read_text(encoding="utf-8"))
    held = report["held_out"]
    image = Image.new("RGB", (2 * PANEL + 3 * MARGIN, PANEL + 2 * MARGIN + 20), "white")
    draw = ImageDraw.Draw(image)
    _panel(draw, MARGIN, MARGIN, f"every component: ECE {held['ece_raw']:.3f} raw (grey), {held['ece']:.3f} calibrated (blue)",
           [(held["reliability_raw"], GREY), (held["reliability"], BLUE)])  # fmt: skip
    _panel(draw, 2 * MARGIN + PANEL, MARGIN,
           f"best instance per expression: ECE {held['best_ece_raw']:.3f} raw, {held['best_ece']:.3f} calibrated",
           [(held["best_reliability_raw"], GREY), (held["best_reliability"], BLUE)])  # fmt: skip
    draw.text((MARGIN, PANEL + MARGIN + 26), "observed frequency of 'the instance is the referent' (IoU >= 0.5) "
              f"on {held['test_scenes']} held-out scenes", fill=INK, font=ImageFont.load_default())  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, optimize=True)
    ratio = held["best_ece"] / held["best_ece_raw"] if held["best_ece_raw"] else float("nan")
    print(f"reliability: best-instance ECE {held['best_ece_raw']:.3f} raw -> {held['best_ece']:.3f} calibrated "
          f"(ratio {ratio:.2f}); all components {held['ece_raw']:.4f} -> {held['ece']:.4f}; wrote {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
