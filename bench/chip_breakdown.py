"""Where a checkpoint succeeds and fails on held-out chips: by GSD, referent size, kind of expression.

    python bench/chip_breakdown.py [--checkpoint default] [--samples 400] [--tta] [--instances best] [--scene-words] [--json OUT]

Scores the first ``--samples`` chips of the stream ``geocrobim evaluate --dataset synthetic
--split test --image-size 256`` scores (seed 0, 256 px, GSD 0.3-2 m, never trained on),
one pair at a time (one pass; ``--tta`` the engine's flip ensemble; ``--instances best`` only the
likeliest connected component, what ``segment`` writes; ``--scene-words`` ranks and parts of the
image resolved by the engine's rule, as ``segment`` reads them), and splits mIoU and P@0.5 by

- the chip's GSD;
- the referent's size in pixels (the output head's resolution shows here);
- how many objects of the referent's category the chip holds (1: the noun alone names it;
  4 or more: the sentence's relation, ordinal or colour must pick it out);
- the kind of expression: plain, relation (north of, next to, between, ...), ordinal
  (largest, second from the left, northernmost, ...), or both.

``category share`` is the part of the predicted mask that lies on objects of the referent's
category: high with a low IoU means the right kind of object, the wrong instance. The last
line is the summary: mIoU of chips with one object of the category / four or more.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()

from geocrobim.data.synthetic.chips import DEFAULT_GSDS, ChipGenerator
from geocrobim.data.synthetic.grammar import Nearest, Ordinal, Query
from geocrobim.data.synthetic.pixel_grid import Grid
from geocrobim.data.synthetic.render import render_mask
from geocrobim.inference.instances import best_component, chip_scene_wide
from geocrobim.inference.scene_words import SceneWords, read_scene_words
from geocrobim.models import load_checkpoint
from geocrobim.models.flips import flip_ensemble
from geocrobim.training.evaluation import pair_runner
from geocrobim.training.metrics import intersection_union, pair_iou
from geocrobim.training.samples import ReferringCollate, SamplePreparer

SIZES = ((100, "< 100 px"), (400, "100-399 px"), (1600, "400-1599 px"), (10**9, ">= 1600 px"))


def kind(query: Query) -> str:
    """``plain``, ``relation``, ``ordinal`` or ``ordinal + relation``, read off the query's structure.

    A relation is any locator (a part of the image, a bank of the river, a relation to another
    object) or "nearest to"; an ordinal is a rank ("the second largest", "the westernmost").
    """
    ordinal = isinstance(query.ordinal, Ordinal)
    relation = query.locator is not None or isinstance(query.ordinal, Nearest)
    return {(False, False): "plain", (False, True): "relation", (True, False): "ordinal"}.get(
        (ordinal, relation), "ordinal + relation"
    )


def score_chips(
    checkpoint: str, samples: int, tta: bool = False, instances: str = "all", scene_words: bool = False
) -> list[dict[str, Any]]:
    """One row per chip: IoU, GSD, referent size, same-category count, kind, category share."""
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.model.eval()
    generator = ChipGenerator(size=256, gsds=DEFAULT_GSDS, seed=0, split="test", per_scene=1)
    prepare, collate = SamplePreparer(256), ReferringCollate(ckpt.tokenizer, ckpt.config.max_tokens)
    rows = []
    for i in range(samples):
        chip = generator.sample(i)
        batch = collate([prepare({"image": chip.image, "mask": chip.mask, "expression": chip.expression, "id": str(i)}, i)])
        words = read_scene_words(chip.expression, banks=False) if scene_words else SceneWords(chip.expression, chip.expression)
        with torch.inference_mode():
            run = pair_runner(model, ckpt.tokenizer, ckpt.config.max_tokens, batch["image"])
            logit = flip_ensemble(run, [words.model_text], expression_dim=0) if tta else run(None, [words.model_text])
        prob = torch.sigmoid(logit[0]).numpy()
        pred = best_component(prob) if instances == "best" else prob > 0.5
        if words.picks:
            pred = chip_scene_wide(prob, words)
        truth = chip.mask > 0
        grid = Grid(0, 0, 256, 256, chip.gsd)
        same = [render_mask(o, grid) > 0 for o in chip.layout.objects if getattr(o, "category", None) == chip.category]
        same = [m for m in same if m.any()]
        on_category = np.logical_or.reduce(same) if same else truth
        rows.append({
            "expression": chip.expression, "gsd": chip.gsd, "pixels": int(truth.sum()), "same": len(same),
            "kind": kind(chip.query),
            "iou": float(pair_iou(*intersection_union(pred, truth))[0]),
            "category_share": float((pred & on_category).sum() / max(pred.sum(), 1)),
        })  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]], title: str, key: Callable[[dict[str, Any]], Any]) -> None:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    print(title)
    for name, members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        name = name[1] if isinstance(name, tuple) else name  # (order, label)
        iou = np.array([r["iou"] for r in members])
        share = np.mean([r["category_share"] for r in members])
        print(f"  {str(name):20s} n={len(members):4d}  mIoU {iou.mean():.3f}  P@0.5 {(iou >= 0.5).mean():.3f}  "
              f"category share {share:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--tta", action="store_true", help="the flip ensemble, as segment --tta")
    parser.add_argument("--instances", choices=("all", "best"), default="all", help="best: the component segment keeps")
    parser.add_argument("--scene-words", action="store_true", help="ranks and parts of the image read as segment reads them")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = score_chips(args.checkpoint, args.samples, args.tta, args.instances, args.scene_words)
    table(rows, "all", lambda r: "all")
    table(rows, "GSD (m)", lambda r: r["gsd"])
    table(rows, "referent size", lambda r: next((i, n) for i, (limit, n) in enumerate(SIZES) if r["pixels"] < limit))
    table(rows, "objects of the referent's category in the chip", lambda r: r["same"] if r["same"] < 4 else "4+")
    table(rows, "kind of expression", lambda r: r["kind"])
    if args.json:
        args.json.write_text(json.dumps({"checkpoint": args.checkpoint, "rows": rows}, indent=1) + "\n")
    one = [r["iou"] for r in rows if r["same"] == 1]
    many = [r["iou"] for r in rows if r["same"] >= 4]
    print(f"summary: mIoU with one object of the category {np.mean(one):.3f}, with four or more {np.mean(many):.3f} "
          f"(ratio {np.mean(many) / np.mean(one):.2f}), all {np.mean([r['iou'] for r in rows]):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
