"""Flips that rewrite the expression, and RMSIN's random boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geocrobim.models.flips import flip_expression
from geocrobim.training.augment import boxes_selected, flip_sample, paint_random_boxes


@pytest.mark.parametrize(
    ("text", "horizontal", "vertical"),
    [
        ("the car on the left of the lake", "the car on the right of the lake", "the car on the left of the lake"),
        ("the top-left storage tank", "the top-right storage tank", "the bottom-left storage tank"),
        ("the ship east of the bridge", "the ship west of the bridge", "the ship east of the bridge"),
        ("the Northeastern pool", "the Northwestern pool", "the Southeastern pool"),
        ("the house north-west of the road", "the house north-east of the road", "the house south-west of the road"),
        ("the upper field above the river", "the upper field above the river", "the lower field below the river"),
        ("the westernmost tank, second from the LEFT", "the easternmost tank, second from the RIGHT", None),
        ("the tennis court to the right", "the tennis court to the left", "the tennis court to the right"),
        ("the largest ship", "the largest ship", "the largest ship"),
    ],
)
def test_flip_expression(text: str, horizontal: str, vertical: str | None) -> None:
    assert flip_expression(text, "horizontal") == horizontal
    assert flip_expression(text, "vertical") == (text if vertical is None else vertical)


@pytest.mark.parametrize(
    ("text", "turned"),
    [
        ("the top-left storage tank", "the bottom-right storage tank"),
        ("the northernmost pool on the left bank", "the southernmost pool on the right bank"),
        ("the house north-west of the road", "the house south-east of the road"),
        ("the largest ship", "the largest ship"),
    ],
)
def test_both_mirrors_turn_the_sentence_by_180_degrees(text: str, turned: str) -> None:
    assert flip_expression(text, "both") == turned
    assert flip_expression(turned, "both") == text


def test_ambiguous_right_is_not_flipped() -> None:
    assert flip_expression("the building right next to the road", "both") is None
    assert flip_expression("the building right next to the road", "horizontal") is None
    # A vertical flip does not touch left/right, so the intensifier is harmless there.
    assert flip_expression("the building right next to the road", "vertical") == "the building right next to the road"


def test_flip_sample_moves_mask_with_words() -> None:
    image = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    mask = torch.zeros(3, 4, dtype=torch.bool)
    mask[:, 0] = True  # the object sits on the left
    out = flip_sample(image, mask, "the field on the left", "horizontal")
    assert out is not None
    img2, mask2, text2 = out
    assert text2 == "the field on the right" and mask2[:, -1].all() and not mask2[:, 0].any()
    assert torch.equal(img2, image.flip(-1))
    out_v = flip_sample(image, mask, "the top field", "vertical")
    assert out_v is not None and torch.equal(out_v[1], mask.flip(-2)) and out_v[2] == "the bottom field"
    assert flip_sample(image, mask, "the tank right by the road", "horizontal") is None


def test_random_boxes_paint_black_squares_and_subset_is_fixed() -> None:
    image = torch.ones(3, 96, 96)
    out = paint_random_boxes(image, np.random.default_rng(0), count=(3, 3), size=16)
    assert image.min() == 1  # input untouched
    zeros = int((out[0] == 0).sum())
    assert 16 * 16 <= zeros <= 3 * 16 * 16 and torch.equal(out[0] == 0, out[2] == 0)
    chosen = [boxes_selected(i, 0.2, seed=7) for i in range(2000)]
    assert chosen == [boxes_selected(i, 0.2, seed=7) for i in range(2000)]
    assert 0.15 < np.mean(chosen) < 0.25
    assert not any(boxes_selected(i, 0.0, seed=7) for i in range(50))
