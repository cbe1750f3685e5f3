"""How well can a mask be drawn from logits at a given stride? The ceiling of each output head.

    python bench/output_resolution.py [--samples 400] [--size 256]

For each held-out synthetic test chip (the stream ``geocrobim evaluate --dataset synthetic``
scores: seed 0, 256 px, GSD 0.3-2 m), the ground truth is averaged over stride x stride
cells, as a perfect low-resolution prediction would be, upsampled back bilinearly, and cut
at 0.5. Its IoU with the ground truth is the best a head at that stride can do without
learning sub-cell shapes. Printed per stride (8: the ⊗ product of crobim_lite-synthetic-v1/v2;
4: with ``mid.mask_refine``) and per upsampling convention (``align_corners`` True: the
LAVT/RMSIN lineage's; False: cell centres kept in place), and at stride 2 for what a
further step would buy, as mIoU and P@0.5 over all
chips and over the small referents (under 400 px). The last line is the summary: the
stride-4 / stride-8 ratio of ceiling mIoU, each with its better convention.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocrobim.data.synthetic.chips import DEFAULT_GSDS, ChipGenerator

SMALL_PIXELS = 400


def ceiling_iou(truth: torch.Tensor, stride: int, align_corners: bool) -> float:
    """IoU of ``truth`` (1, 1, S, S) float with its stride-pooled, upsampled, thresholded copy."""
    low = F.avg_pool2d(truth, stride)
    up = F.interpolate(low, size=truth.shape[-2:], mode="bilinear", align_corners=align_corners) > 0.5
    target = truth > 0.5
    return float((up & target).sum() / (up | target).sum().clamp_min(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    generator = ChipGenerator(size=args.size, gsds=DEFAULT_GSDS, seed=0, split="test", per_scene=1)
    heads = [(8, True), (8, False), (4, True), (4, False), (2, False)]
    ious: dict[tuple[int, bool], list[float]] = {head: [] for head in heads}
    small = []
    for i in range(args.samples):
        mask = generator.sample(i).mask > 0
        small.append(mask.sum() < SMALL_PIXELS)
        truth = torch.from_numpy(mask.astype(np.float32))[None, None]
        for stride, align in heads:
            ious[(stride, align)].append(ceiling_iou(truth, stride, align))
    is_small = np.array(small)
    print(f"{args.samples} test chips at {args.size} px, {is_small.sum()} referents under {SMALL_PIXELS} px")
    best: dict[int, float] = {}
    for (stride, align), values in ious.items():
        v = np.array(values)
        best[stride] = max(best.get(stride, 0.0), float(v.mean()))
        print(f"stride {stride}, align_corners={str(align):5s}: mIoU {v.mean():.3f}  P@0.5 {(v >= 0.5).mean():.3f}  "
              f"small: mIoU {v[is_small].mean():.3f}  P@0.5 {(v[is_small] >= 0.5).mean():.3f}")  # fmt: skip
    print(f"summary: ceiling mIoU stride 4 / stride 8 = {best[4] / best[8]:.2f} ({best[4]:.3f} vs {best[8]:.3f})")


if __name__ == "__main__":
    main()
