"""Synthetic scenes for sample-efficient training: one render, several expressions, dense labels.

A CPU spends most of a training step in the image encoder and most of the data time
rendering, so :class:`SyntheticSceneStream` yields whole scenes: one image, up to
``per_scene`` (expression, mask) pairs that the model decodes from a single encoder
pass (as :meth:`geocrobim.models.CroBIM.forward_many` does at inference), and what the
generator knows for free:

- ``semantic``: every referable object's category per pixel, at 1/4 of the chip
  (0 = background, then :data:`CATEGORIES` in order; the river is one of them);
- ``colour``: the colour word of every coloured object per pixel (0 = none, then
  :data:`COLOURS`);
- ``parse``: per expression, its target's category, the colour word it uses, the kind of
  locator and of ordinal (:data:`LOCATORS`, :data:`ORDINALS`), read off its ``Query``.

Training-only heads learn these (:mod:`geocrobim.training.auxiliary`) and are dropped at
export. Flips rewrite every expression of the scene (or the scene is not flipped), and
the photometric jitter changes brightness and contrast only, never hue: colour words
must stay true.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from geocrobim.data.synthetic.chips import DEFAULT_GSDS, ChipGenerator, ChipSample
from geocrobim.data.synthetic.grammar import (
    AcrossRiver,
    Between,
    Direction,
    NextTo,
    OnWater,
    Query,
    Region,
    RiverSide,
)
from geocrobim.data.synthetic.palette import CATEGORY_COLOURS
from geocrobim.data.synthetic.pixel_grid import Grid
from geocrobim.data.synthetic.referents import TARGET_WEIGHTS
from geocrobim.data.synthetic.render import render_mask
from geocrobim.errors import UsageError
from geocrobim.models import TextTokenizer
from geocrobim.models.flips import flip_expression
from geocrobim.models.predictor import IMAGENET_MEAN, IMAGENET_STD

logger = logging.getLogger(__name__)

#: referable categories, in the order of the semantic classes 1..12.
CATEGORIES: tuple[str, ...] = tuple(TARGET_WEIGHTS)
#: colour words, in the order of the colour classes 1..N.
COLOURS: tuple[str, ...] = tuple(sorted({c for colours in CATEGORY_COLOURS.values() for c in colours}))
#: locator kinds, classes 1..7 (0 = no locator).
LOCATORS: tuple[type, ...] = (Region, RiverSide, OnWater, Direction, NextTo, Between, AcrossRiver)
#: ordinal keys, classes 1..3 (0 = no ordinal).
ORDINALS: tuple[str, ...] = ("x", "y", "size")
#: number of classes of each parse field: category, colour, locator, ordinal.
PARSE_CLASSES: tuple[int, ...] = (len(CATEGORIES), len(COLOURS) + 1, len(LOCATORS) + 1, len(ORDINALS) + 1)
#: the dense maps are at 1/DENSE_STRIDE of the chip.
DENSE_STRIDE = 4


def parse_labels(query: Query, category: str) -> list[int]:
    """(category, colour, locator, ordinal) class indices of one expression's meaning."""
    colour = query.filter.colour
    locator = 0 if query.locator is None else LOCATORS.index(type(query.locator)) + 1
    ordinal = 0 if query.ordinal is None else ORDINALS.index(query.ordinal.key) + 1
    return [CATEGORIES.index(category), 0 if colour is None else COLOURS.index(colour) + 1, locator, ordinal]


def dense_labels(sample: ChipSample, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Category and colour of every referable object per pixel, at ``size // DENSE_STRIDE``.

    Returns:
        ``semantic`` and ``colour``, each (size / 4, size / 4) uint8.
    """
    side = size // DENSE_STRIDE
    grid = Grid(0, 0, side, side, sample.gsd * size / side)
    semantic = np.zeros((side, side), np.uint8)
    colour = np.zeros((side, side), np.uint8)
    view = (0.0, 0.0, grid.width * grid.gsd, grid.height * grid.gsd)
    for obj in sample.layout.objects:
        if not obj.referable or obj.category not in CATEGORIES:
            continue
        x0, y0, x1, y1 = obj.footprint.bounds
        if x1 < view[0] or y1 < view[1] or x0 > view[2] or y0 > view[3]:
            continue
        cover = render_mask(obj, grid).astype(bool)
        semantic[cover] = CATEGORIES.index(obj.category) + 1
        if obj.colour in COLOURS:
            colour[cover] = COLOURS.index(obj.colour) + 1
    return semantic, colour


class SyntheticSceneStream(IterableDataset[dict[str, Any]]):
    """Endless fresh scenes, each with up to ``per_scene`` targets and dense labels.

    Args:
        length: scenes per epoch over all processes.
        size: chip side in pixels (the model's input: no resize).
        gsds: GSDs in metres, one drawn per scene.
        seed: base seed.
        per_scene: expressions per scene (K).
        split: the seed stream (``train``, ``val`` or ``test``).
        hflip: probability of a horizontal flip (expressions rewritten).
        vflip: probability of a vertical flip.
        jitter: brightness and contrast jitter amplitude (0.1 = +-10 %).
        styles: expression-style weights to change (e.g. more ordinals); None keeps the defaults.

    Attributes:
        rank / world_size: this process's share; set by the datamodule under DDP.
        offset: scene indices to skip, set by the datamodule when a run resumes, so the
            resumed run sees fresh scenes instead of repeating its first ones.

    Each item: ``image`` (S, S, 3) uint8, ``masks`` (K', S, S) uint8, ``expressions``
    (K' strings), ``parse`` (K', 4) int64, ``semantic`` and ``colour`` (S/4, S/4) uint8,
    ``id``; K' <= K (a sparse scene has fewer describable targets).
    """

    def __init__(
        self,
        length: int,
        size: int = 256,
        gsds: Sequence[float] = DEFAULT_GSDS,
        seed: int = 0,
        per_scene: int = 4,
        split: str = "train",
        hflip: float = 0.0,
        vflip: float = 0.0,
        jitter: float = 0.0,
        styles: Mapping[str, float] | None = None,
    ) -> None:
        if length < 1:
            raise UsageError(f"length={length} must be at least 1")
        if size % DENSE_STRIDE:
            raise UsageError(f"size={size} must be a multiple of {DENSE_STRIDE}")
        self.length, self.size = int(length), int(size)
        self.generator = ChipGenerator(size=size, gsds=gsds, seed=seed, split=split, per_scene=per_scene, styles=styles)
        self.hflip, self.vflip, self.jitter = float(hflip), float(vflip), float(jitter)
        self.rank, self.world_size = 0, 1
        self.offset = 0  # scenes already used (a resumed run starts after them)
        self._epoch = 0

    def __len__(self) -> int:
        return self.length // self.world_size

    def scene(self, index: int, rng: np.random.Generator | None = None) -> dict[str, Any] | None:
        """Scene ``index`` as one item (None when nothing in it is describable)."""
        try:
            samples = self.generator.scene(index)
        except RuntimeError as exc:
            logger.warning("skipping synthetic scene %d: %s", index, exc)
            return None
        first = samples[0]
        semantic, colour = dense_labels(first, self.size)
        image = first.image
        masks = np.stack([s.mask for s in samples])
        expressions = [s.expression for s in samples]
        parse = np.asarray([parse_labels(s.query, s.category) for s in samples], np.int64)
        if rng is not None:
            for axis, p, dim in (("horizontal", self.hflip, 1), ("vertical", self.vflip, 0)):
                if p and rng.random() < p:
                    rewritten = [flip_expression(e, axis) for e in expressions]  # type: ignore[arg-type]  # axis comes from the FlipAxis values
                    if all(r is not None for r in rewritten):
                        expressions = [str(r) for r in rewritten]
                        image = np.flip(image, dim)
                        masks, semantic, colour = np.flip(masks, dim + 1), np.flip(semantic, dim), np.flip(colour, dim)
            if self.jitter:
                gain = 1.0 + rng.uniform(-self.jitter, self.jitter)
                contrast = 1.0 + rng.uniform(-self.jitter, self.jitter)
                mean = image.mean()
                out = (image.astype(np.float32) - mean) * contrast + mean * gain
                image = np.clip(out, 0, 255).astype(np.uint8)
        return {
            "image": np.ascontiguousarray(image),
            "masks": np.ascontiguousarray(masks),
            "expressions": expressions,
            "parse": parse,
            "semantic": np.ascontiguousarray(semantic),
            "colour": np.ascontiguousarray(colour),
            "id": f"{self.generator.split}_{index}",
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        shards, shard = self.world_size * workers, self.rank * workers + worker
        quota = len(self) // workers + (1 if worker < len(self) % workers else 0)
        first = self._epoch * self.length + self.offset
        train = self.generator.split == "train"
        rng = np.random.default_rng([self.generator.seed, self._epoch, shard]) if train else None
        self._epoch += 1 if train else 0  # evaluation streams show the same scenes every time
        produced, k = 0, 0
        while produced < quota:
            item = self.scene(first + k * shards + shard, rng)
            k += 1
            if item is not None:
                produced += 1
                yield item


class SceneCollate:
    """Stack scenes into a grouped batch, padding to K expressions per scene.

    Returns ``image`` (B, 3, S, S) float32 ImageNet-normalised, ``mask`` (B, K, S, S) bool,
    ``input_ids`` / ``attention_mask`` (B, K, L) long, ``valid`` (B, K) bool, ``parse``
    (B, K, 4) long, ``semantic`` / ``colour`` (B, S/4, S/4) long, ``expression`` (B lists)
    and ``id``.
    """

    def __init__(self, tokenizer: TextTokenizer, max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = int(max_tokens)

    def __call__(self, scenes: Sequence[dict[str, Any]]) -> dict[str, Any]:
        b, k = len(scenes), max(len(s["expressions"]) for s in scenes)
        size = scenes[0]["image"].shape[0]
        images = torch.from_numpy(np.stack([s["image"] for s in scenes])).permute(0, 3, 1, 2).float() / 255.0
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        masks = torch.zeros(b, k, size, size, dtype=torch.bool)
        valid = torch.zeros(b, k, dtype=torch.bool)
        parse = torch.zeros(b, k, 4, dtype=torch.long)
        texts = []
        for i, s in enumerate(scenes):
            n = len(s["expressions"])
            masks[i, :n] = torch.from_numpy(s["masks"] > 0)
            valid[i, :n] = True
            parse[i, :n] = torch.from_numpy(s["parse"])
            texts += list(s["expressions"]) + [""] * (k - n)
        input_ids, attention_mask = self.tokenizer(texts, self.max_tokens, warn_user=False)
        return {
            "image": (images - mean) / std,
            "mask": masks,
            "input_ids": input_ids.view(b, k, -1),
            "attention_mask": attention_mask.view(b, k, -1),
            "valid": valid,
            "parse": parse,
            "semantic": torch.from_numpy(np.stack([s["semantic"] for s in scenes])).long(),
            "colour": torch.from_numpy(np.stack([s["colour"] for s in scenes])).long(),
            "expression": [list(s["expressions"]) for s in scenes],
            "id": [s["id"] for s in scenes],
        }
