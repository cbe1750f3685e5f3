"""Training throughput on this machine: the old CPU recipe against the new one.

    python bench/train_step.py [--steps 6] [--threads 2]

Times full optimisation steps (forward, loss, backward, AdamW step) of the task as the
two recipes configure it, on real synthetic batches rendered once before timing:

- ``crobim_small`` (configs/synthetic_small_cpu.yaml): ConvNeXt-Atto from scratch, 16
  chips of one expression each, 128 px;
- ``crobim_lite`` (configs/embedded_cpu.yaml): ImageNet EfficientNet-Lite0 with its stem
  and first two stages frozen, 8 scenes x 4 expressions at 256 px, dense and parse
  heads, GloVe word table (random vectors here: the timing does not depend on them).

Rendering is not timed (a DataLoader worker does it beside training). Prints, per
recipe, seconds a step, images (encoder passes) and (image, expression) pairs a second,
and a final summary line with the pairs/s ratio new / old.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()

from geocrobim.training.samples import ReferringCollate, SamplePreparer
from geocrobim.training.scenes import SceneCollate, SyntheticSceneStream
from geocrobim.training.synthetic import SyntheticStream
from geocrobim.training.task import ReferringSegmentationTask

RECIPES: dict[str, dict[str, Any]] = {
    "crobim_small (128 px, 16 chips x 1 expression)": {
        "task": {"model": "crobim_small", "tokenizer": "builtin", "model_overrides": {"image_size": 128},
                 "ce_weight": 1.0, "dice_weight": 1.0, "dice_reduction": "mean"},  # fmt: skip
        "grouped": False, "batch": 16, "size": 128,
    },
    "crobim_lite (256 px, 8 scenes x 4 expressions)": {
        "task": {"model": "crobim_lite", "tokenizer": "builtin", "encoder_frozen_stages": 2, "encoder_lr_scale": 0.2,
                 "aux_weight": 0.5, "parse_weight": 0.2, "ce_weight": 1.0, "dice_weight": 1.0,
                 "dice_reduction": "mean"},  # fmt: skip
        "grouped": True, "batch": 8, "size": 256, "per_scene": 4,
    },
}


def make_batch(task: ReferringSegmentationTask, recipe: dict[str, Any]) -> dict[str, Any]:
    """One real batch of the recipe's shape."""
    gsds = (0.3, 0.5, 1.0, 2.0)
    if recipe["grouped"]:
        stream = SyntheticSceneStream(recipe["batch"], size=recipe["size"], gsds=gsds, seed=5,
                                      per_scene=recipe["per_scene"])  # fmt: skip
        return SceneCollate(task.tokenizer, task.max_tokens)(list(stream))
    chips = SyntheticStream(recipe["batch"], size=256, gsds=gsds, seed=5, per_scene=4)
    prepare = SamplePreparer(recipe["size"])
    samples = [prepare(s, i) for i, s in zip(range(recipe["batch"]), chips)]
    return ReferringCollate(task.tokenizer, task.max_tokens)(samples)


def time_recipe(recipe: dict[str, Any], steps: int) -> tuple[float, int, int]:
    """Median seconds a step, images and pairs a step."""
    task = ReferringSegmentationTask(**recipe["task"])
    task.train()
    task.log = lambda *a, **k: None  # type: ignore[method-assign]  # no trainer attached
    params = [p for p in task.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    batch = make_batch(task, recipe)
    pairs = int(batch["valid"].sum()) if recipe["grouped"] else len(batch["image"])
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        loss = task.training_step(batch, i)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step warms the allocator up
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], len(batch["image"]), pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rates = []
    for name, recipe in RECIPES.items():
        seconds, images, pairs = time_recipe(recipe, args.steps)
        rates.append(pairs / seconds)
        print(f"{name:48s} {seconds:6.2f} s/step  {images / seconds:6.1f} images/s  {pairs / seconds:6.1f} pairs/s")
    print(f"summary: new/old training pairs per second = {rates[1] / rates[0]:.2f} "
          f"({rates[1]:.1f} vs {rates[0]:.1f}), {args.threads} threads")  # fmt: skip


if __name__ == "__main__":
    main()
