"""Synthetic scenes for the CPU recipe: several expressions a render, dense labels, flips, collation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geocrobim.data.synthetic.chips import ChipGenerator
from geocrobim.training.scenes import (
    CATEGORIES,
    COLOURS,
    LOCATORS,
    SceneCollate,
    SyntheticSceneStream,
    dense_labels,
    parse_labels,
)
from geocrobim.training.vocab import builtin_tokenizer


@pytest.fixture(scope="module")
def stream() -> SyntheticSceneStream:
    return SyntheticSceneStream(6, size=128, gsds=(0.5, 1.0), seed=4, per_scene=3)


def test_a_scene_holds_its_expressions_masks_and_dense_maps(stream: SyntheticSceneStream) -> None:
    items = list(stream)
    assert len(items) == 6
    for item in items:
        k = len(item["expressions"])
        assert 1 <= k <= 3
        assert item["image"].shape == (128, 128, 3) and item["masks"].shape == (k, 128, 128)
        assert item["semantic"].shape == item["colour"].shape == (32, 32)
        assert item["parse"].shape == (k, 4)
        # the dense map marks each target's own category under most of the target
        for mask, parse in zip(item["masks"], item["parse"]):
            small = mask.reshape(32, 4, 32, 4).mean((1, 3)) >= 0.5
            if small.sum() >= 4:
                assert (item["semantic"][small] == parse[0] + 1).mean() > 0.5


def test_parse_labels_follow_the_query() -> None:
    gen = ChipGenerator(size=128, gsds=(0.5,), seed=11, per_scene=4)
    seen_locator = False
    for index in range(6):
        for s in gen.scene(index):
            category, colour, locator, ordinal = parse_labels(s.query, s.category)
            assert CATEGORIES[category] == s.category
            assert (colour == 0) == (s.query.filter.colour is None)
            if colour:
                assert COLOURS[colour - 1] == s.query.filter.colour
            if s.query.locator is not None:
                assert isinstance(s.query.locator, LOCATORS[locator - 1])
                seen_locator = True
            assert (ordinal == 0) == (s.query.ordinal is None)
    assert seen_locator


def test_dense_labels_cover_the_rendered_objects() -> None:
    sample = ChipGenerator(size=128, gsds=(0.5,), seed=2).scene(0)[0]
    semantic, colour = dense_labels(sample, 128)
    target = sample.mask.reshape(32, 4, 32, 4).mean((1, 3)) >= 0.5
    assert target.sum() >= 4
    assert (semantic[target] == CATEGORIES.index(sample.category) + 1).mean() >= 0.75
    assert (semantic > 0).sum() > target.sum()  # the other objects are labelled too
    assert set(np.unique(colour)) <= set(range(len(COLOURS) + 1))


def test_flips_rewrite_every_expression_and_move_every_map() -> None:
    plain = SyntheticSceneStream(4, size=128, gsds=(0.5,), seed=9, per_scene=3)
    flipped = SyntheticSceneStream(4, size=128, gsds=(0.5,), seed=9, per_scene=3, hflip=1.0)
    changed = 0
    for index in range(4):
        a = plain.scene(index)
        b = flipped.scene(index, np.random.default_rng(0))
        assert a is not None and b is not None
        if np.array_equal(a["image"], b["image"]):  # some expression could not be rewritten
            assert a["expressions"] == b["expressions"]
            continue
        changed += 1
        assert np.array_equal(b["image"], a["image"][:, ::-1])
        assert np.array_equal(b["masks"], a["masks"][:, :, ::-1])
        assert np.array_equal(b["semantic"], a["semantic"][:, ::-1])
        for before, after in zip(a["expressions"], b["expressions"]):
            for word, other in (("left", "right"), ("east", "west")):
                if f" {word}" in before.lower():
                    assert f" {other}" in after.lower()
    assert changed >= 1


def test_jitter_keeps_hue() -> None:
    plain = SyntheticSceneStream(1, size=64, gsds=(0.5,), seed=1, per_scene=1)
    jittered = SyntheticSceneStream(1, size=64, gsds=(0.5,), seed=1, per_scene=1, jitter=0.2)
    a = plain.scene(0)["image"].astype(float)
    b = jittered.scene(0, np.random.default_rng(5))["image"].astype(float)
    assert not np.array_equal(a, b)
    # brightness/contrast act on all channels alike: channel differences keep their sign
    keep = (np.abs(a[..., 0] - a[..., 2]) > 30) & (b.max(-1) < 250) & (b.min(-1) > 5)
    assert np.all(np.sign(a[..., 0] - a[..., 2])[keep] == np.sign(b[..., 0] - b[..., 2])[keep])


def test_collate_pads_scenes_to_k_expressions(stream: SyntheticSceneStream) -> None:
    items = [stream.scene(i) for i in range(3)]
    items = [i for i in items if i is not None]
    items[0] = {**items[0], "expressions": items[0]["expressions"][:1], "masks": items[0]["masks"][:1],
                "parse": items[0]["parse"][:1]}  # fmt: skip
    batch = SceneCollate(builtin_tokenizer(), 16)(items)
    b, k = len(items), max(len(i["expressions"]) for i in items)
    assert batch["image"].shape == (b, 3, 128, 128) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (b, k, 128, 128) and batch["input_ids"].shape == (b, k, 16)
    assert batch["valid"][0].tolist() == [True] + [False] * (k - 1)
    assert not batch["mask"][0, 1:].any()
    assert batch["semantic"].shape == (b, 32, 32) and batch["semantic"].dtype == torch.long


def test_offset_skips_the_scenes_a_resumed_run_has_used() -> None:
    fresh = SyntheticSceneStream(4, size=64, gsds=(0.5,), seed=3, per_scene=1)
    resumed = SyntheticSceneStream(4, size=64, gsds=(0.5,), seed=3, per_scene=1)
    resumed.offset = 2
    assert [i["id"] for i in resumed][:2] == [i["id"] for i in fresh][2:]


def test_style_weights_reach_the_training_stream_only() -> None:
    from geocrobim.data.synthetic.referents import STYLES
    from geocrobim.errors import UsageError
    from geocrobim.training.datamodule import SyntheticScenesDataModule

    ranks = {style: 0.0 for style in STYLES} | {"ordinal": 1.0}
    module = SyntheticScenesDataModule(train_size=4, val_size=2, test_size=2, gsds=[1.0], image_size=64, styles=ranks)
    module.tokenizer, module.max_tokens = builtin_tokenizer(), 20
    module.setup("fit")
    assert module.train_dataset.generator.styles == ranks  # type: ignore[attr-defined]
    assert module.val_dataset.generator.styles == STYLES  # type: ignore[attr-defined]  # validation stays comparable
    assert "style weights" in module.trained_on
    with pytest.raises(UsageError, match="'ordinals'"):
        SyntheticScenesDataModule(styles={"ordinals": 1.0})
