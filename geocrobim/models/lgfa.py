"""LGFA box of the CroBIM figure: language-guided feature aggregation.

Figure: image levels + word-only features -> "Language-to-Vision Interaction" ->
"Multi-scale attention fusion" -> "Attention deficit compensation" -> one visual map V.
The internals are [INFERRED] (the paper does not specify them):

- L2V interaction per level: LAVT/RMSIN pixel-word attention (PWAM) with a tanh gate;
- multi-scale attention fusion: per-pixel softmax weights over the 4 projected levels,
  ``Fagg = sum_i A_i * F_i'``;
- attention deficit compensation (``deficit_mode="complement"``): re-inject what the
  softmax suppressed, ``V = Fagg + gamma * (1 - max_i A_i) * Fcomp`` with gamma initialised
  to 0; or (``"no_word_token"``) a learnable null word in every pixel-word softmax so pixels
  that match no word need not spread attention over irrelevant words.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from geocrobim.models.config import LGFAConfig

#: Logit given to padded words (LAVT's value; safe in bf16 and fp16).
PAD_LOGIT = -1e4


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups that divide ``channels`` (batch-size independent)."""
    groups = math.gcd(32, channels)
    return nn.GroupNorm(groups, channels)


class PixelWordAttention(nn.Module):
    """Language-to-vision interaction for one level (LAVT's PWAM with a tanh gate).

    Args:
        channels: C_i of the level.
        text_dim: H of the word features.
        null_word: add a learnable "no-word" key/value to the softmax (deficit_mode
            ``"no_word_token"``).
    """

    def __init__(self, channels: int, text_dim: int, null_word: bool = False) -> None:
        super().__init__()
        self.scale = channels**-0.5
        self.vis = nn.Conv2d(channels, channels, 1)
        self.query = nn.Conv2d(channels, channels, 1)
        self.query_norm = nn.InstanceNorm2d(channels, affine=True)
        self.key = nn.Linear(text_dim, channels)
        self.value = nn.Linear(text_dim, channels)
        self.out = nn.Conv2d(channels, channels, 1)
        self.out_norm = nn.InstanceNorm2d(channels, affine=True)
        self.mix = nn.Conv2d(channels, channels, 1)
        self.gate = nn.Sequential(
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.Tanh(),
        )
        self.null_key: nn.Parameter | None = None
        self.null_value: nn.Parameter | None = None
        if null_word:
            self.null_key = nn.Parameter(torch.randn(channels) * 0.02)
            self.null_value = nn.Parameter(torch.zeros(channels))

    def forward(self, feat: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        """Inject words into a visual level.

        Args:
            feat: F_i, (B, C, h, w).
            words: T, (B, L, H).
            word_mask: (B, L), 1 on real tokens.

        Returns:
            F_i', (B, C, h, w) = F_i + tanh_gate(m) * m with m the pixel-word product.
        """
        b, c, h, w = feat.shape
        mask = word_mask.to(words.dtype).unsqueeze(-1)  # (B, L, 1)
        keys = self.key(words) * mask  # (B, L, C)
        values = self.value(words) * mask
        logit_bias = (1.0 - word_mask.to(feat.dtype)) * PAD_LOGIT  # (B, L)
        if self.null_key is not None and self.null_value is not None:
            keys = torch.cat([keys, self.null_key.to(keys.dtype).expand(b, 1, c)], 1)
            values = torch.cat([values, self.null_value.to(values.dtype).expand(b, 1, c)], 1)
            logit_bias = torch.cat([logit_bias, logit_bias.new_zeros(b, 1)], 1)
        query = self.query_norm(self.query(feat)).flatten(2).transpose(1, 2)  # (B, hw, C)
        logits = query @ keys.transpose(1, 2) * self.scale + logit_bias.unsqueeze(1)  # (B, hw, L)
        lang = (logits.softmax(-1) @ values).transpose(1, 2).reshape(b, c, h, w)
        lang = self.out_norm(self.out(lang))
        mixed = F.gelu(self.mix(F.gelu(self.vis(feat)) * lang))
        return feat + self.gate(mixed) * mixed


class LGFA(nn.Module):
    """Language-guided feature aggregation with attention deficit compensation.

    Args:
        config: width D, fusion stride, deficit mode.
        in_channels: channels of the 4 levels.
        text_dim: H of the word features.
    """

    def __init__(self, config: LGFAConfig, in_channels: tuple[int, ...], text_dim: int) -> None:
        super().__init__()
        self.config = config
        null_word = config.deficit_mode == "no_word_token"
        d, n = config.width, len(in_channels)
        self.interact = nn.ModuleList(PixelWordAttention(c, text_dim, null_word) for c in in_channels)
        self.project = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, d, 1, bias=False), group_norm(d), nn.ReLU()) for c in in_channels
        )
        self.scale_logits = nn.Conv2d(n * d, n, 3, padding=1)  # multi-scale attention fusion
        self.compensate: nn.Conv2d | None = None
        self.gamma: nn.Parameter | None = None
        if config.deficit_mode == "complement":
            self.compensate = nn.Conv2d(n * d, d, 1)
            self.gamma = nn.Parameter(torch.zeros(()))

    def forward(
        self, feats: list[torch.Tensor], words: torch.Tensor, word_mask: torch.Tensor, image_size: int
    ) -> torch.Tensor:
        """Fuse words into the 4 levels and aggregate them into V.

        Args:
            feats: 4 levels (B, C_i, S / r_i, S / r_i).
            words: word-only features T, (B, L, H).
            word_mask: (B, L).
            image_size: S.

        Returns:
            V, (B, D, S / fusion_stride, S / fusion_stride).
        """
        size = image_size // self.config.fusion_stride
        levels = []
        for feat, interact, project in zip(feats, self.interact, self.project):
            fused = project(interact(feat, words, word_mask))
            if fused.shape[-1] != size or fused.shape[-2] != size:
                fused = F.interpolate(fused, size=(size, size), mode="bilinear", align_corners=False)
            levels.append(fused)
        stacked = torch.cat(levels, dim=1)  # (B, 4D, h, w)
        attn = self.scale_logits(stacked).softmax(dim=1)  # A: (B, 4, h, w), per-pixel weights over scales
        aggregated = sum(attn[:, i : i + 1] * level for i, level in enumerate(levels))
        if self.compensate is None or self.gamma is None:
            return aggregated
        deficit = 1.0 - attn.amax(dim=1, keepdim=True)  # (B, 1, h, w): how much the softmax left out
        return aggregated + self.gamma * deficit * self.compensate(stacked)
