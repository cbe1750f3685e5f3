"""Output head: per-class bias, then bilinear upsampling of the ⊗ logits to S x S.

LAVT/RMSIN upsample their low-resolution 2-channel logits bilinearly with
``align_corners=True`` and take the argmax; a 1-channel head is read with a sigmoid.
``CroBIMConfig.align_corners=False`` keeps each low-resolution cell centred on the pixels
it covers instead (the lineage's convention shifts an 8x map by up to 3.5 px).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class UpsampleHead(nn.Module):
    """Learnable per-class bias and bilinear upsampling.

    Args:
        num_classes: 1 (sigmoid) or 2 (softmax; channel 1 is the referred object).
        align_corners: bilinear convention (True: the lineage's).
    """

    def __init__(self, num_classes: int, align_corners: bool = True) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.align_corners = align_corners
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, logits: torch.Tensor, size: int) -> torch.Tensor:
        """(B, C, h, w) low-resolution logits -> (B, C, size, size)."""
        logits = logits + self.bias.to(logits.dtype).view(1, -1, 1, 1)
        if logits.shape[-1] == size and logits.shape[-2] == size:
            return logits
        return F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=self.align_corners)


def foreground_logit(logits: torch.Tensor) -> torch.Tensor:
    """One logit per pixel whose sigmoid is the foreground probability.

    Args:
        logits: (..., C, H, W) with C in {1, 2}.

    Returns:
        (..., H, W): the 1-class logit, or ``l1 - l0`` for 2 classes
        (``sigmoid(l1 - l0) == softmax(l)[1]``).
    """
    if logits.shape[-3] == 1:
        return logits[..., 0, :, :]
    return logits[..., 1, :, :] - logits[..., 0, :, :]
