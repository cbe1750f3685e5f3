"""CE/BCE + Dice losses and the logits-to-mask rule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geocrobim.errors import UsageError
from geocrobim.training.losses import ReferringLoss, soft_dice_loss


def test_two_class_loss_is_rmsin_formula() -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 2, 8, 8, generator=gen)
    target = torch.rand(3, 8, 8, generator=gen) > 0.5
    loss = ReferringLoss(num_classes=2)(logits, target)

    ce = F.cross_entropy(logits, target.long(), weight=torch.tensor([0.9, 1.1]))
    p = logits.softmax(1)
    t = torch.stack([~target, target], 1).float()
    inter = (p * t).sum((2, 3))
    dice = (1 - (2 * inter + 1e-6) / ((p + t).sum((2, 3)) + 1e-6)).sum()  # summed over batch and class
    assert loss.item() == pytest.approx((0.9 * ce + 0.1 * dice).item(), rel=1e-6)


def test_one_class_bce_dice_and_mean_reduction() -> None:
    logits = torch.tensor([[[[10.0, -10.0], [10.0, -10.0]]]])
    target = torch.tensor([[[1, 0], [1, 0]]])
    loss = ReferringLoss(num_classes=1, ce_weight=1.0, dice_weight=1.0, dice_reduction="mean")(logits, target)
    # Near-perfect prediction: BCE ~ 4.5e-5, Dice ~ 0.
    assert 0 <= loss.item() < 1e-3
    assert ReferringLoss(num_classes=1)(-logits, target).item() > 5


def test_dice_loss_perfect_and_disjoint() -> None:
    t = torch.zeros(1, 1, 4, 4)
    t[..., :2, :] = 1
    assert soft_dice_loss(t, t).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_dice_loss(1 - t, t).item() == pytest.approx(1.0, abs=1e-6)


def test_loss_backpropagates_and_is_float32_under_bf16() -> None:
    logits = torch.randn(2, 2, 6, 6, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = ReferringLoss()(logits.bfloat16(), torch.ones(2, 6, 6, dtype=torch.bool))
    assert loss.dtype == torch.float32
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_bad_arguments() -> None:
    with pytest.raises(UsageError, match="num_classes"):
        ReferringLoss(num_classes=3)
    with pytest.raises(UsageError, match="dice_reduction"):
        ReferringLoss(dice_reduction="max")  # type: ignore[arg-type]  # a bad value on purpose
    with pytest.raises(ValueError, match="channels"):
        ReferringLoss(num_classes=1)(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2))

