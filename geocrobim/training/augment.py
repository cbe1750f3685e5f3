"""Training augmentations that keep the referring expression true.

A geometric flip changes what "left" or "north" means, so LAVT, LGCE and RMSIN use no
flips at all. geocrobim flips only together with a rewrite of the expression:

- horizontal flip (mirror left-right): left <-> right, east <-> west (and -most, -ern,
  -ward, north-east <-> north-west ...);
- vertical flip (mirror top-bottom): north <-> south, top <-> bottom, upper <-> lower,
  above <-> below.

"right" is also an intensifier ("right next to the road"); when a left/right word is not
clearly a direction, :func:`~geocrobim.models.flips.flip_expression` returns None and the
sample is not flipped. The same rewrite serves the flip ensemble at inference.
Both flips are off by default. RMSIN's random black boxes are an option too.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from geocrobim.models.flips import FLIP_DIM, FlipAxis, flip_expression


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
    dim = FLIP_DIM[axis]
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


