"""Training augmentations that keep the referring expression true.

A geometric flip changes what "left" or "north" means, so LAVT, LGCE and RMSIN use no
flips at all. geocrobim flips only together with a rewrite of the expression:

- horizontal flip (mirror left-right): left <-> right, east <-> west (and -most, -ern,
  -ward, north-east <-> north-west ...);
- vertical flip (mirror top-bottom): north <-> south, top <-> bottom, upper <-> lower,
  above <-> below.

"right" is also an intensifier ("right next to the road"); when a left/right word is not
clearly a direction, :func:`flip_expression` returns None and the sample is not flipped.
Both flips are off by default. RMSIN's random black boxes are an option too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from torch import Tensor

FlipAxis = Literal["horizontal", "vertical"]

_SUFFIXES = ("", "ern", "erly", "ward", "wards", "ernmost")


def _compass_pairs(a: str, b: str) -> dict[str, str]:
    """``a <-> b`` with every suffix: east <-> west, eastern <-> western, ..."""
    return {a + s: b + s for s in _SUFFIXES} | {b + s: a + s for s in _SUFFIXES}


def _compounds(swap_first: bool) -> dict[str, str]:
    """north-east style single words: swap the first half (vertical) or the second (horizontal)."""
    pairs: dict[str, str] = {}
    for first, other_first in (("north", "south"), ("south", "north")):
        for second, other_second in (("east", "west"), ("west", "east")):
            for s in _SUFFIXES:
                new = f"{other_first}{second}{s}" if swap_first else f"{first}{other_second}{s}"
                pairs[f"{first}{second}{s}"] = new
    return pairs


_SWAPS: dict[str, dict[str, str]] = {
    "horizontal": {
        "left": "right",
        "right": "left",
        "leftmost": "rightmost",
        "rightmost": "leftmost",
        "lefthand": "righthand",
        "righthand": "lefthand",
        **_compass_pairs("east", "west"),
        **_compounds(swap_first=False),
    },
    "vertical": {
        "top": "bottom",
        "bottom": "top",
        "topmost": "bottommost",
        "bottommost": "topmost",
        "upper": "lower",
        "lower": "upper",
        "uppermost": "lowermost",
        "lowermost": "uppermost",
        "above": "below",
        "below": "above",
        **_compass_pairs("north", "south"),
        **_compounds(swap_first=True),
    },
}

_WORD = re.compile(r"[A-Za-z]+")

# A left/right word is a direction after these words ("the right", "upper-left") ...
_DIRECTION_BEFORE = {"the", "to", "on", "at", "far", "upper", "lower", "top", "bottom", "middle", "centre", "center",
                     "its", "their", "from", "extreme", "lefthand", "righthand"}
# ... or before these ("right of", "left side", "right-hand").
_DIRECTION_AFTER = {"of", "side", "sides", "half", "corner", "corners", "edge", "edges", "part", "end", "bank", "hand",
                    "most", "border", "portion", "area", "region"}


def flip_expression(text: str, axis: FlipAxis) -> str | None:
    """Rewrite an expression for an image flipped along ``axis``.

    Args:
        text: the referring expression.
        axis: ``"horizontal"`` (mirror left-right) or ``"vertical"`` (mirror top-bottom).

    Returns:
        The rewritten expression (case of each word kept), or None if a "left"/"right"
        might not be a direction (e.g. "right next to"), in which case do not flip.
    """
    swaps = _SWAPS[axis]
    words = [m.group(0).lower() for m in _WORD.finditer(text)]
    if axis == "horizontal":
        for i, word in enumerate(words):
            if word in ("left", "right") and not _is_direction(words, i):
                return None

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        new = swaps.get(word.lower())
        if new is None:
            return word
        if word.isupper() and len(word) > 1:
            return new.upper()
        return new.capitalize() if word[0].isupper() else new

    return _WORD.sub(replace, text)


def _is_direction(words: Sequence[str], i: int) -> bool:
    before = words[i - 1] if i > 0 else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    return before in _DIRECTION_BEFORE or after in _DIRECTION_AFTER or after == ""


def flip_sample(image: Tensor, mask: Tensor, expression: str, axis: FlipAxis) -> tuple[Tensor, Tensor, str] | None:
    """Flip an image, its mask and its expression together.

    Args:
        image: (C, H, W) tensor.
        mask: (H, W) tensor.
        expression: the referring expression.
        axis: ``"horizontal"`` or ``"vertical"``.

    Returns:
        ``(image, mask, expression)`` flipped, or None when the expression cannot be
        rewritten safely.
    """
    new = flip_expression(expression, axis)
    if new is None:
        return None
    dim = -1 if axis == "horizontal" else -2
    return image.flip(dim), mask.flip(dim), new


def paint_random_boxes(
    image: Tensor,
    rng: np.random.Generator,
    count: tuple[int, int] = (20, 60),
    size: int = 32,
) -> Tensor:
    """RMSIN's occlusion augmentation: black ``size x size`` squares at random places.

    Args:
        image: (C, H, W) tensor; a painted copy is returned.
        rng: source of the number and positions of the boxes.
        count: inclusive range of the number of boxes (RMSIN: 20-60).
        size: box side in pixels of ``image`` (RMSIN: 32).

    Returns:
        (C, H, W) tensor with zeros in the boxes.
    """
    out = image.clone()
    h, w = out.shape[-2:]
    side = min(size, h, w)
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        y = int(rng.integers(0, h - side + 1))
        x = int(rng.integers(0, w - side + 1))
        out[..., y : y + side, x : x + side] = 0
    return out


def boxes_selected(key: int, fraction: float, seed: int) -> bool:
    """Whether the sample with integer ``key`` (e.g. a hash of its id) is in the boxed subset.

    RMSIN draws its 20 % subset once when the dataset is built; a function of
    ``(seed, key)`` gives the same fixed subset in every epoch, worker and process.
    """
    if fraction <= 0:
        return False
    return bool(np.random.default_rng([seed, key, 0xB0C5]).random() < fraction)


