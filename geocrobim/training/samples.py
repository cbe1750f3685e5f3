"""Per-sample preparation and batch collation for referring segmentation.

A dataset yields ``dict(image, mask, expression, id)`` (geocrobim.data). Here each sample
is resized to the model's square input if it is not already
(``geocrobim.data.base.resize_pair``: bilinear image, nearest mask, as the lineage's
``Resize``), optionally augmented (expression-rewriting flips, RMSIN's black boxes;
training only), and a batch is stacked, ImageNet-normalised and tokenised.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset

from geocrobim.data.base import resize_pair
from geocrobim.models import TextTokenizer
from geocrobim.models.predictor import IMAGENET_MEAN, IMAGENET_STD
from geocrobim.training.augment import boxes_selected, flip_sample, paint_random_boxes

logger = logging.getLogger(__name__)


def to_hwc_uint8(image: Any) -> np.ndarray:
    """(H, W, 3) uint8 from a (3, H, W) tensor (geocrobim.data datasets) or an (H, W, 3) array (chips)."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise ValueError(f"image must be 3-D uint8, got shape {arr.shape} dtype {arr.dtype}")
    return arr.transpose(1, 2, 0) if arr.shape[0] == 3 and arr.shape[-1] != 3 else arr


class SamplePreparer:
    """Resize one sample and, for training, augment it.

    Args:
        image_size: side S of the square model input.
        hflip: probability of a horizontal flip with left/right, east/west rewritten.
        vflip: probability of a vertical flip with north/south, top/bottom rewritten.
        random_boxes: fraction of samples (a fixed subset, by sample id) that get RMSIN's
            black boxes.
        seed: seed of the random-boxes subset.
    """

    def __init__(
        self, image_size: int, hflip: float = 0.0, vflip: float = 0.0, random_boxes: float = 0.0, seed: int = 0
    ) -> None:
        self.image_size = int(image_size)
        self.hflip, self.vflip, self.random_boxes = float(hflip), float(vflip), float(random_boxes)
        self.seed = int(seed)

    def __call__(self, sample: dict[str, Any], key: int) -> dict[str, Any]:
        """``dict(image (3, S, S) float 0-255, mask (S, S) bool, expression, id)`` from a raw sample."""
        # geocrobim.data resizes when given image_size (then this is a no-op); chips arrive native.
        hwc, bool_mask = resize_pair(to_hwc_uint8(sample["image"]), np.asarray(sample["mask"]) > 0, self.image_size)
        image = torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1))).float()
        mask = torch.from_numpy(np.ascontiguousarray(bool_mask))
        expression = str(sample["expression"])
        sample_id = str(sample.get("id", key))
        if self.hflip or self.vflip or self.random_boxes:
            # torch's RNG: seeded per run by Lightning and per DataLoader worker and epoch by torch.
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            for axis, p in (("horizontal", self.hflip), ("vertical", self.vflip)):
                if p and rng.random() < p:
                    flipped = flip_sample(image, mask, expression, axis)  # type: ignore[arg-type]  # axis comes from the FlipAxis values
                    if flipped is not None:
                        image, mask, expression = flipped
            if boxes_selected(zlib.crc32(sample_id.encode()), self.random_boxes, self.seed):
                image = paint_random_boxes(image, rng)
        return {"image": image, "mask": mask, "expression": expression, "id": sample_id}


class ReferringSamples(Dataset[dict[str, Any]]):
    """A map-style referring dataset, each sample passed through a :class:`SamplePreparer`."""

    def __init__(self, dataset: Dataset[dict[str, Any]], prepare: SamplePreparer) -> None:
        self.dataset = dataset
        self.prepare = prepare

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]  # a map-style Dataset has __len__; torch's Dataset type does not declare it

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.prepare(self.dataset[index], index)


class ReferringStream(IterableDataset[dict[str, Any]]):
    """An iterable referring dataset, each sample passed through a :class:`SamplePreparer`."""

    def __init__(self, dataset: IterableDataset[dict[str, Any]], prepare: SamplePreparer) -> None:
        self.dataset = dataset
        self.prepare = prepare

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]  # a map-style Dataset has __len__; torch's Dataset type does not declare it

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for key, sample in enumerate(self.dataset):
            yield self.prepare(sample, key)


def prepared(dataset: Dataset[dict[str, Any]], prepare: SamplePreparer) -> Dataset[dict[str, Any]]:
    """Wrap a map-style or iterable dataset with ``prepare``."""
    if isinstance(dataset, IterableDataset):
        return ReferringStream(dataset, prepare)
    return ReferringSamples(dataset, prepare)


class ReferringCollate:
    """Stack samples, ImageNet-normalise the images and tokenise the expressions.

    Picklable, so DataLoader workers tokenise in parallel.

    Args:
        tokenizer: the model's tokenizer.
        max_tokens: tokenizer length L.
    """

    def __init__(self, tokenizer: TextTokenizer, max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = int(max_tokens)

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Returns ``image`` (B, 3, S, S) float32 normalised, ``mask`` (B, S, S) bool,
        ``input_ids`` / ``attention_mask`` (B, L) long, ``expression`` and ``id`` lists."""
        images = torch.stack([s["image"] for s in samples]) / 255.0
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        expressions = [s["expression"] for s in samples]
        input_ids, attention_mask = self.tokenizer(expressions, self.max_tokens, warn_user=False)
        return {
            "image": (images - mean) / std,
            "mask": torch.stack([s["mask"] for s in samples]),
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "expression": expressions,
            "id": [s["id"] for s in samples],
        }
