"""Training-only heads on what the synthetic generator knows for free (dropped at export).

A referring mask is one bit per pixel per expression: little signal for an encoder
that must learn what a warehouse or a red roof looks like. These heads add dense and
per-expression targets that cost almost nothing to compute:

- :class:`DenseHead` predicts every object's category and colour per pixel from the
  image encoder's levels 2-4 (strides 8, 16, 32), so the encoder learns all objects of
  a scene from one render, not only the referred ones;
- :class:`ParseHead` predicts the parse of each expression (target category, colour
  word, locator kind, ordinal kind) from the text encoder's ``[CLS]`` features, so the
  text side learns the grammar's structure from every expression directly.

They live in the Lightning task, not in :class:`~geocrobim.models.CroBIM`, so the
exported checkpoint and inference never see them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DenseHead(nn.Module):
    """Category and colour logits per pixel from the encoder's coarser levels.

    Args:
        channels: channels of the 4 encoder levels.
        categories: semantic classes (background included).
        colours: colour classes ("none" included).
        width: hidden width.
    """

    def __init__(self, channels: Sequence[int], categories: int, colours: int, width: int = 64) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels[1:])
        self.out = nn.Sequential(nn.GELU(), nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
                                 nn.Conv2d(width, categories + colours, 1))  # fmt: skip
        self.categories = categories

    def forward(self, feats: Sequence[Tensor], size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """4 levels (B, C_i, h_i, w_i) -> category (B, N_cat, *size) and colour (B, N_col, *size) logits."""
        base = feats[1].shape[-2:]
        fused = sum(
            F.interpolate(lat(f), size=base, mode="bilinear", align_corners=False) if f.shape[-2:] != base else lat(f)
            for lat, f in zip(self.lateral, feats[1:])
        )
        logits = F.interpolate(self.out(fused), size=size, mode="bilinear", align_corners=False)
        return logits[:, : self.categories], logits[:, self.categories :]


class ParseHead(nn.Module):
    """Per-expression parse logits from the ``[CLS]`` slot of the word features.

    Args:
        text_dim: H.
        classes: classes of each parse field.
    """

    def __init__(self, text_dim: int, classes: Sequence[int]) -> None:
        super().__init__()
        self.classes = tuple(int(c) for c in classes)
        self.proj = nn.Sequential(nn.Linear(text_dim, 2 * text_dim), nn.GELU(), nn.Linear(2 * text_dim, sum(self.classes)))

    def forward(self, words: Tensor) -> list[Tensor]:
        """(N, L, H) word features -> one (N, classes_j) logit tensor per field."""
        return list(torch.split(self.proj(words[:, 0]), list(self.classes), dim=-1))
