"""Training losses for referring segmentation (docs/model.md).

- 2 classes (the lineage): ``ce_weight * CE(logits, y, weight=[0.9, 1.1]) + dice_weight * Dice``
  with RMSIN's defaults 0.9 and 0.1. Dice is computed on the softmax probabilities of both
  classes against the one-hot target, per sample and class, with smooth 1e-6, and
  **summed** over batch and class as RMSIN's ``loss/loss.py`` does (``dice_reduction="mean"``
  makes it independent of the batch size).
- 1 class: ``ce_weight * BCE(logit, y) + dice_weight * Dice(sigmoid)`` with the same Dice.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geocrobim.errors import UsageError

DiceReduction = Literal["sum", "mean"]


def soft_dice_loss(probs: Tensor, onehot: Tensor, smooth: float = 1e-6, reduction: DiceReduction = "sum") -> Tensor:
    """``1 - (2 I + s) / (P + T + s)`` per sample and class, then reduced.

    Args:
        probs: (B, C, H, W) probabilities.
        onehot: (B, C, H, W) 0/1 target of the same shape.
        smooth: added to numerator and denominator (1e-6 in RMSIN).
        reduction: ``"sum"`` (RMSIN) or ``"mean"`` over the (B, C) entries.

    Returns:
        A scalar tensor.
    """
    dims = tuple(range(2, probs.ndim))
    inter = (probs * onehot).sum(dims)
    denom = (probs + onehot).sum(dims)
    loss = 1.0 - (2.0 * inter + smooth) / (denom + smooth)
    return loss.sum() if reduction == "sum" else loss.mean()


class ReferringLoss(nn.Module):
    """Cross-entropy (or BCE) plus Dice, weighted.

    Args:
        num_classes: 2 (softmax logits) or 1 (a sigmoid logit).
        ce_weight: weight of the (weighted) cross-entropy or BCE term.
        dice_weight: weight of the Dice term.
        class_weights: CE weights of background and foreground (2 classes only).
        dice_reduction: ``"sum"`` over batch and class (RMSIN) or ``"mean"``.
        smooth: Dice smoothing.
    """

    class_weights: torch.Tensor  # a registered buffer (nn.Module's attribute lookup types it loosely)

    def __init__(
        self,
        num_classes: int = 2,
        ce_weight: float = 0.9,
        dice_weight: float = 0.1,
        class_weights: tuple[float, float] = (0.9, 1.1),
        dice_reduction: DiceReduction = "sum",
        smooth: float = 1e-6,
    ) -> None:
        super().__init__()
        if num_classes not in (1, 2):
            raise UsageError(f"num_classes={num_classes} must be 1 or 2")
        if len(class_weights) != 2:
            raise UsageError(f"class_weights={class_weights!r} needs 2 values (background, foreground)")
        if dice_reduction not in ("sum", "mean"):
            raise UsageError(f"dice_reduction={dice_reduction!r} must be 'sum' or 'mean'")
        self.num_classes = num_classes
        self.ce_weight = float(ce_weight)
        self.dice_weight = float(dice_weight)
        self.dice_reduction: DiceReduction = dice_reduction
        self.smooth = float(smooth)
        # A buffer so it follows the module to the GPU and is not a parameter.
        self.register_buffer("class_weights", torch.tensor(class_weights, dtype=torch.float32), persistent=False)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of a batch.

        Args:
            logits: (B, C, H, W) raw model output, C = ``num_classes``.
            target: (B, H, W) ground-truth mask (bool or 0/1 integers).

        Returns:
            A scalar tensor (float32 even under autocast).
        """
        logits = logits.float()
        if logits.shape[1] != self.num_classes:
            raise ValueError(f"logits have {logits.shape[1]} channels, the loss expects {self.num_classes}")
        if self.num_classes == 2:
            labels = target.long()
            ce = F.cross_entropy(logits, labels, weight=self.class_weights)
            probs = logits.softmax(1)
            onehot = F.one_hot(labels, 2).permute(0, 3, 1, 2).to(probs.dtype)
        else:
            onehot = target.to(logits.dtype)[:, None]
            ce = F.binary_cross_entropy_with_logits(logits, onehot)
            probs = logits.sigmoid()
        dice = soft_dice_loss(probs, onehot, self.smooth, self.dice_reduction)
        return self.ce_weight * ce + self.dice_weight * dice

