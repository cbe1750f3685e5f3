"""Tiny self-made checkpoints for tests and benchmarks (no network, random weights).

:func:`make_test_checkpoint` writes a complete checkpoint directory: a WordPiece vocab
made here (special tokens, geographic and object words, letters, digits and ``##``
pieces so that any lowercase ASCII text tokenises without ``[UNK]``), a model built
from a preset with that vocab size and a fixed seed, and metadata.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from geocrobim.models.checkpoint import save_checkpoint
from geocrobim.models.crobim import CroBIM
from geocrobim.models.registry import get_config
from geocrobim.models.text_encoder import SPECIAL_TOKENS, TextTokenizer

#: Words of referring expressions for remote sensing (objects, colours, places, relations).
WORDS = ["the", "a", "an", "of", "on", "in", "at", "to", "by", "and", "or", "with", "near", "next", "beside", "between", "above", "below", "under", "over", "left", "right", "top", "bottom", "upper", "lower", "middle", "center", "centre", "north", "south", "east", "west", "northern", "southern", "eastern", "western", "corner", "side", "edge", "large", "small", "big", "long", "short", "wide", "narrow", "tall", "round", "square", "red", "green", "blue", "white", "black", "gray", "grey", "brown", "yellow", "orange", "dark", "light", "roof", "roofed", "building", "house", "warehouse", "factory", "church", "school", "hospital", "stadium", "bridge", "road", "street", "highway", "river", "lake", "sea", "harbor", "harbour", "port", "ship", "boat", "vehicle", "car", "truck", "bus", "airplane", "plane", "airport", "runway", "helipad", "tank", "storage", "chimney", "windmill", "dam", "field", "court", "tennis", "basketball", "baseball", "soccer", "golf", "track", "ground", "pool", "swimming", "train", "station", "roundabout", "overpass", "crane", "container", "tree", "trees", "forest", "park", "farm", "parking", "lot", "water", "one", "two", "three", "first", "second", "third", "is", "that", "which", "there", "this"]

PUNCTUATION = tuple(".,;:!?'\"-()/")


def make_vocab(words: Sequence[str] | None = None) -> list[str]:
    """Ordered vocab: special tokens, words, punctuation, digits, letters, then ``##`` pieces."""
    chars = list(string.ascii_lowercase + string.digits)
    tokens = list(SPECIAL_TOKENS) + [w.lower() for w in (words if words is not None else WORDS)]
    tokens += list(PUNCTUATION) + chars + [f"##{c}" for c in chars]
    return list(dict.fromkeys(tokens))


def make_test_tokenizer(vocab_words: Sequence[str] | None = None) -> TextTokenizer:
    """A TextTokenizer over :func:`make_vocab`."""
    return TextTokenizer.from_vocab(make_vocab(vocab_words))


def make_test_model(
    preset: str = "crobim_test", seed: int = 0, vocab_size: int | None = None, **overrides: Any
) -> CroBIM:
    """A preset model with seeded random weights (and optionally a given vocab size), in eval mode."""
    if vocab_size is not None:
        overrides = {**overrides, "text_encoder.vocab_size": vocab_size}
    config = get_config(preset, **overrides)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = CroBIM(config, load_pretrained=False)
    finally:
        torch.random.set_rng_state(state)
    return model.eval()


def make_test_checkpoint(
    path: str | Path,
    preset: str = "crobim_test",
    seed: int = 0,
    vocab_words: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
    **overrides: Any,
) -> Path:
    """Write a complete tiny checkpoint directory with random weights and a self-made vocab.

    Args:
        path: target directory (created or replaced).
        preset: model preset (its ``text_encoder.vocab_size`` is set to the vocab size).
        seed: weight-init seed (same seed, same weights).
        vocab_words: words for the vocab instead of :data:`WORDS`.
        metadata: merged over ``{"model_id": "<preset>-test-seed<seed>", "gsd_m": None,
            "trained_on": "nothing (random weights, for tests)"}``.
        **overrides: config overrides, e.g. ``num_classes=1``.

    Returns:
        The checkpoint directory.
    """
    tokenizer = make_test_tokenizer(vocab_words)
    model = make_test_model(preset, seed, vocab_size=tokenizer.vocab_size, **overrides)
    meta: dict[str, Any] = {
        "model_id": f"{preset}-test-seed{seed}",
        "gsd_m": None,
        "trained_on": "nothing (random weights, for tests)",
        "metrics": {},
    }
    meta.update(metadata or {})
    return save_checkpoint(model, tokenizer, path, metadata=meta)
