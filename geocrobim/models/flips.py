"""Flipping an image together with its sentence: the rewrite, and the flip ensemble.

A mirrored image changes what "left" or "north" means. :func:`flip_expression` rewrites a
sentence for an image mirrored along one axis:

- horizontal flip (mirror left-right): left <-> right, east <-> west (and -most, -ern,
  -ward, north-east <-> north-west ...);
- vertical flip (mirror top-bottom): north <-> south, top <-> bottom, upper <-> lower,
  above <-> below.

"right" is also an intensifier ("right next to the road"); when a left/right word is not
clearly a direction, the rewrite returns None. Training uses it to flip samples
(:mod:`geocrobim.training.augment`); inference uses it in :func:`flip_ensemble`, which
averages the model's answer over the image as it is and mirrored, each read with its own
sentence (test-time augmentation; docs/model.md, "Flip ensemble").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

import torch

FlipAxis = Literal["horizontal", "vertical", "both"]
#: the array dimensions each mirror reverses, counted from the end: columns, rows, or both
#: (mirrored left-right and top-bottom: the image turned by 180 degrees).
FLIP_DIM: dict[FlipAxis, tuple[int, ...]] = {"horizontal": (-1,), "vertical": (-2,), "both": (-2, -1)}

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
        axis: ``"horizontal"`` (mirror left-right), ``"vertical"`` (mirror top-bottom) or
            ``"both"`` (both mirrors: the image turned by 180 degrees).

    Returns:
        The rewritten expression (case of each word kept), or None if a "left"/"right"
        might not be a direction (e.g. "right next to"), in which case do not flip.
    """
    if axis == "both":
        left_right = flip_expression(text, "horizontal")
        return None if left_right is None else flip_expression(left_right, "vertical")
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


#: each mirror and both at once (a 180-degree turn): the ensemble the engine's ``--tta`` and
#: ``geocrobim evaluate --tta`` run. The turn added mIoU 0.629 -> 0.635 and P@0.5 0.696 -> 0.700 on
#: 1,000 held-out chips (docs/model.md, "Flip ensemble").
ENSEMBLE_FLIPS: tuple[FlipAxis, ...] = ("horizontal", "vertical", "both")


def flip_ensemble(
    run: Callable[[FlipAxis | None, list[str]], torch.Tensor],
    expressions: Sequence[str],
    flips: Sequence[FlipAxis] = ENSEMBLE_FLIPS,
    expression_dim: int = 1,
) -> torch.Tensor:
    """Foreground logits averaged over the image as it is and mirrored along each of ``flips``.

    Each mirrored pass reads its sentences rewritten by :func:`flip_expression`; an
    expression that cannot be rewritten safely counts its unmirrored answer instead. The
    probabilities are averaged (as measured in docs/model.md) and returned as logits.

    Args:
        run: ``run(axis, texts)`` -> foreground logits (..., H, W) of the images mirrored
            along ``axis`` (None: as they are), read with ``texts``, in the mirrored frame.
        expressions: the E sentences of the unmirrored pass.
        flips: the mirrors to add.
        expression_dim: the logits' dimension that indexes expressions (1 for the
            predictor's (B, E, H, W), 0 for one expression per image, (B, H, W)).

    Returns:
        Logits of the same shape as ``run``'s, float32.
    """
    texts = list(expressions)
    plain = run(None, texts).float()
    total = torch.sigmoid(plain)
    for axis in flips:
        rewritten = [flip_expression(text, axis) for text in texts]
        mirrored = run(axis, [new or old for new, old in zip(rewritten, texts, strict=True)]).float()
        mirrored = mirrored.flip(FLIP_DIM[axis])
        shape = [1] * plain.dim()
        shape[expression_dim] = len(texts)
        keep = torch.tensor([new is not None for new in rewritten], device=plain.device).view(shape)
        total += torch.sigmoid(torch.where(keep, mirrored, plain))
    return torch.logit(total / (1 + len(flips)), eps=1e-6)
