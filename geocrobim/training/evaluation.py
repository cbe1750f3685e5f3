"""Evaluate a geocrobim checkpoint on a referring-segmentation test set (``geocrobim evaluate``).

Each (image, expression) pair is resized to ``image_size`` (480 by default, as the
published numbers: image bilinear, ground truth nearest), segmented (argmax of 2 classes
or sigmoid > 0.5), and counted into oIoU, mIoU and Precision@0.5-0.9
(:mod:`geocrobim.training.metrics`). ``instances="best"`` scores what ``segment`` writes
instead of the raw mask: only the likeliest connected component
(:func:`geocrobim.inference.instances.best_component`). ``scene_words=True`` also reads a
chip as ``segment`` reads a scene: a sentence with a rank or a part of the image is asked
without those words ("every ship") and the engine's rule picks the component
(:func:`geocrobim.inference.instances.chip_scene_wide`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from geocrobim.atomic import write_text
from geocrobim.choices import INSTANCE_CHOICES, Instances
from geocrobim.errors import OutputError, UsageError
from geocrobim.inference.instances import best_component, chip_scene_wide
from geocrobim.inference.scene_words import SceneWords, read_scene_words
from geocrobim.models import TextTokenizer, load_checkpoint
from geocrobim.models.flips import FLIP_DIM, FlipAxis, flip_ensemble
from geocrobim.models.head import foreground_logit
from geocrobim.models.predictor import resolve_device, resolve_precision
from geocrobim.training.datamodule import open_dataset
from geocrobim.training.metrics import COLUMNS, IoUAccumulator
from geocrobim.training.samples import ReferringCollate, ReferringSamples, SamplePreparer

logger = logging.getLogger(__name__)

Split = Literal["train", "val", "test"]


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: str,
    root: str | Path | None,
    split: Split = "test",
    *,
    image_size: int = 480,
    batch_size: int = 8,
    device: str = "auto",
    precision: str = "auto",
    num_workers: int = 0,
    limit: int | None = None,
    dataset_options: dict[str, Any] | None = None,
    tta: bool = False,
    instances: Instances = "all",
    scene_words: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score a checkpoint on one split of a dataset.

    Args:
        checkpoint: checkpoint directory or ``"default"``.
        dataset: one of ``risbench``, ``rrsisd``, ``refsegrs``, ``synthetic``.
        root: the dataset folder (``synthetic`` without a root generates chips on the fly).
        split: ``train``, ``val`` or ``test``.
        image_size: side at which masks are compared (480 = the papers' protocol).
        batch_size: pairs per forward pass.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        precision: ``auto`` (bf16 on CUDA), ``fp32`` or ``bf16``.
        num_workers: DataLoader workers.
        limit: score only the first ``limit`` pairs.
        dataset_options: extra keyword arguments of the dataset class.
        tta: score the flip ensemble (:func:`~geocrobim.models.flips.flip_ensemble`, the
            engine's ``--tta``) instead of one pass.
        instances: ``"all"`` scores the whole thresholded mask (the papers' protocol);
            ``"best"`` only its likeliest connected component, as ``segment`` keeps it.
        scene_words: resolve ranks and parts of the image as the engine does (one component
            for those sentences, whatever ``instances``); the bank of the river stays the model's,
            as a chip has no coarse view to find the river on.
        progress: ``(done, total)`` callback, in pairs.

    Returns:
        A JSON-able dict: the checkpoint, model id, dataset, split, image size, the number
        of pairs, the paper's columns as fractions under ``metrics``, and seconds.
    """
    if image_size < 1:
        raise UsageError(f"image_size={image_size} must be positive")
    if instances not in INSTANCE_CHOICES:
        raise UsageError(f"instances={instances!r} is not one of {', '.join(INSTANCE_CHOICES)}")
    start = time.perf_counter()
    ckpt = load_checkpoint(checkpoint)
    data: Dataset[dict[str, Any]] = open_dataset(dataset, root, split, image_size, **(dataset_options or {}))
    if limit is not None:
        data = Subset(data, range(min(int(limit), len(data))))  # type: ignore[arg-type]  # a map-style Dataset has __len__; torch's Dataset type does not declare it
    total = len(data)  # type: ignore[arg-type]  # a map-style Dataset has __len__; torch's Dataset type does not declare it
    if total == 0:
        raise UsageError(f"split {split!r} of {dataset} at {root} has no pairs; check --root and --split")
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    model = ckpt.model.to(dev).eval()
    loader = DataLoader(
        ReferringSamples(data, SamplePreparer(image_size)),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=ReferringCollate(ckpt.tokenizer, ckpt.config.max_tokens),
    )
    acc = IoUAccumulator()
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=prec == "bf16"):
        for batch in loader:
            image = batch["image"].to(dev)
            texts = list(batch["expression"])
            words = [read_scene_words(t, banks=False) for t in texts] if scene_words else []
            asked = [w.model_text for w in words] or texts
            if tta:
                run = pair_runner(model, ckpt.tokenizer, ckpt.config.max_tokens, image)
                fg = flip_ensemble(run, asked, expression_dim=0)
            elif asked != texts:
                fg = pair_runner(model, ckpt.tokenizer, ckpt.config.max_tokens, image)(None, asked)
            else:
                fg = foreground_logit(model(image, batch["input_ids"].to(dev), batch["attention_mask"].to(dev)))
            pred = fg > 0 if instances == "all" else _best_components(fg)
            if words:
                pred = _scene_wide(fg, words, pred)
            acc.update(pred, batch["mask"].to(dev))
            if progress is not None:
                progress(len(acc), total)
    metrics = acc.compute()
    return {
        "checkpoint": str(ckpt.path),
        "model_id": ckpt.metadata.get("model_id", Path(str(ckpt.path)).name),
        "dataset": dataset,
        "root": None if root is None else str(root),
        "split": split,
        "image_size": image_size,
        "tta": tta,
        "instances": instances,
        "scene_words": scene_words,
        "pairs": int(metrics.pop("pairs")),
        "metrics": {k: metrics[k] for k in COLUMNS},
        "device": str(dev),
        "precision": prec,
        "seconds": round(time.perf_counter() - start, 3),
    }


def format_table(result: dict[str, Any]) -> str:
    """The paper's columns in percent, as a two-line plain-text table."""
    header = "  ".join(f"{c:>7}" for c in COLUMNS) + "    pairs"
    values = "  ".join(f"{100 * result['metrics'][c]:7.2f}" for c in COLUMNS) + f"  {result['pairs']:7d}"
    return f"{header}\n{values}"


def pair_runner(
    model: torch.nn.Module, tokenizer: TextTokenizer, max_tokens: int, image: torch.Tensor
) -> Callable[[FlipAxis | None, list[str]], torch.Tensor]:
    """``run`` of :func:`flip_ensemble` for one expression per image: (B, H, W) foreground logits.

    The sentences are a dataset's, not a user's: no unknown-word warnings (as the one-pass collate).
    """

    def run(axis: FlipAxis | None, texts: list[str]) -> torch.Tensor:
        ids, mask = tokenizer(texts, max_tokens, warn_user=False)
        x = image if axis is None else image.flip(FLIP_DIM[axis])
        return foreground_logit(model(x, ids.to(image.device), mask.to(image.device)))

    return run


def _best_components(logits: torch.Tensor) -> torch.Tensor:
    """(B, H, W) foreground logits -> (B, H, W) bool masks of each item's likeliest component."""
    prob = torch.sigmoid(logits.float()).cpu().numpy()
    return torch.from_numpy(np.stack([best_component(p) for p in prob])).to(logits.device)


def _scene_wide(logits: torch.Tensor, words: list[SceneWords], pred: torch.Tensor) -> torch.Tensor:
    """``pred`` with the items whose sentence has a rank or a part of the image picked as the engine picks."""
    out = pred.clone()
    for i, w in enumerate(words):
        if w.picks:
            prob = torch.sigmoid(logits[i].float()).cpu().numpy()
            out[i] = torch.from_numpy(chip_scene_wide(prob, w)).to(pred.device)
    return out


def record_metrics(result: dict[str, Any]) -> Path:
    """Store an evaluation result in its checkpoint's ``metadata.json`` (atomically).

    The entry goes under ``metrics["<dataset>/<split>"]`` (``.../tta`` for the flip ensemble, then ``.../best`` for
    ``instances="best"``, then ``/words`` for ``scene_words=True``) with the columns (fractions,
    6 decimals), the number of pairs and the image size, so ``geocrobim models`` shows it.

    Returns:
        The metadata file.

    Raises:
        OutputError: the file cannot be written.
    """
    path = Path(result["checkpoint"]) / "metadata.json"
    meta = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    entry = {k: round(v, 6) for k, v in result["metrics"].items()}
    entry |= {"pairs": result["pairs"], "image_size": result["image_size"]}
    key = f"{result['dataset']}/{result['split']}" + ("/tta" if result.get("tta") else "")
    key += "/best" if result.get("instances") == "best" else ""
    key += "/words" if result.get("scene_words") else ""
    meta.setdefault("metrics", {})[key] = entry
    try:
        write_text(path, json.dumps(meta, indent=2) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot record metrics in {path} ({exc.strerror}); check the folder is writable") from exc
    return path
