"""Mask refinement: stride-8 logits to stride-4 logits, sharpened by the stride-4 image level.

Not a box of the CroBIM figure. The figure's ⊗ product gives logits at the stride of the
fused map V (8 in geocrobim's presets); upsampled 8x bilinearly, they cannot draw an object
a few cells wide. On 400 held-out synthetic chips, even a *perfect* stride-8 map (the
ground truth averaged over 8 x 8 cells) upsampled this way reaches only mIoU 0.46-0.52,
against 0.75-0.82 at stride 4 (docs/model.md, "Output resolution"). This module upsamples
the logits 2x and adds a correction computed from three things per pixel: the logits
themselves, the language-fused features V (which object is meant) and the stride-4 image
level F1 (where its edges are). Its last layer starts at zero, so a model trained without
it starts from the same (2x upsampled) answer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _norm(channels: int) -> nn.GroupNorm:
    # 8 groups, not one per channel: a per-channel norm would erase how strongly an edge
    # or a logit stands out, which is what the refinement reads.
    return nn.GroupNorm(8, channels)


class MaskRefine(nn.Module):
    """Residual stride-4 refinement of the ⊗ logits.

    Args:
        num_classes: C, logit channels (1 or 2).
        dim: D, channels of V.
        fine_channels: C_1, channels of the stride-4 image level.
        width: channels of the refinement convolutions.
    """

    def __init__(self, num_classes: int, dim: int, fine_channels: int, width: int = 32) -> None:
        super().__init__()
        self.fine = nn.Sequential(nn.Conv2d(fine_channels, width, 1, bias=False), _norm(width), nn.ReLU())
        # V is projected at stride 8, before upsampling: four times fewer pixels to project.
        self.context = nn.Conv2d(dim, width, 1)
        self.blocks = nn.Sequential(
            nn.Conv2d(2 * width + num_classes, width, 3, padding=1, bias=False), _norm(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False), _norm(width), nn.ReLU(),
        )  # fmt: skip
        self.out = nn.Conv2d(width, num_classes, 1)
        with torch.no_grad():
            self.out.weight.zero_()
            self.out.bias.zero_()  # type: ignore[union-attr]  # Conv2d(..., bias=True) has a bias

    def forward(self, logits: torch.Tensor, visual: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        """Refine low-resolution logits at the resolution of ``fine``.

        Args:
            logits: (B, C, h, w) ⊗ logits at the stride of V.
            visual: V, (B, D, h, w).
            fine: stride-4 image level F1, (B, C_1, H4, W4), H4 >= h.

        Returns:
            (B, C, H4, W4) logits: the bilinear 2x upsampling plus a learnt correction.
        """
        size = fine.shape[-2:]
        up = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        context = F.interpolate(self.context(visual), size=size, mode="bilinear", align_corners=False)
        correction = self.out(self.blocks(torch.cat([up, context, self.fine(fine)], 1)))
        return up + correction
