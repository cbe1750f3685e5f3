"""MID box of the CroBIM figure: the mutual-interaction decoder.

Figure: K stacked "Language-to-Vision Alignment" (L2V) boxes and K stacked
"Vision-to-Language Alignment" (V2L) boxes, cascaded; the V2L output is added to V (the
figure's ⊕); a matrix product (⊗) of V and the language side gives the mask.
Internals [INFERRED] (the paper does not specify them): pre-LN cross-attention with 2-D sine
positional encodings on the pixels; the language kernel comes from the ``[CLS]`` slot
(or the masked mean) of the aligned tokens; the CRIS-style pixel-kernel product gives
1 or 2 low-resolution logit maps. An optional FPN step fuses the stride-4 level into V
before the product, or an optional mask refinement (:mod:`geocrobim.models.refine`) takes
the product's logits to stride 4 after it, and an optional pixel self-attention step ends
each layer (none of the three is in the figure).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from geocrobim.models.capm import FeedForward
from geocrobim.models.config import MIDConfig
from geocrobim.models.lgfa import group_norm
from geocrobim.models.refine import MaskRefine


def sine_position_encoding(height: int, width: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """DETR-style 2-D sine positional encoding.

    Returns:
        (height * width, dim): the first half encodes y, the second half x; each half
        alternates sin/cos over ``dim / 4`` frequencies.
    """
    quarter = dim // 4
    freqs = 1.0 / (10000 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter))
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height * 2 * math.pi
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width * 2 * math.pi
    y = ys[:, None] * freqs[None]  # (h, q)
    x = xs[:, None] * freqs[None]  # (w, q)
    y_enc = torch.cat([y.sin(), y.cos()], -1)[:, None, :].expand(height, width, 2 * quarter)
    x_enc = torch.cat([x.sin(), x.cos()], -1)[None, :, :].expand(height, width, 2 * quarter)
    return torch.cat([y_enc, x_enc], -1).reshape(height * width, 4 * quarter).to(dtype)


class PixelSelfAttention(nn.Module):
    """Language-conditioned pixels attend to one another (pre-LN, residual, zero-initialised).

    Not in the CroBIM figure. Cross-attention lets a pixel ask the sentence what is meant,
    and the sentence's tokens see every pixel, but no pixel sees the others: to decide
    whether *this* tank is "the second from the left" or "the largest", a pixel has to
    compare itself with the other tanks of the chip. On held-out chips with four or more
    objects of the referent's category, the shipped model without this step found the
    referent about one time in three (``bench/chip_breakdown.py``). Keys and values are
    average-pooled (``pool``) so the cost grows with N * N / pool^2, not N^2. The output
    projection starts at zero, so a checkpoint trained without the step keeps its answer.

    Args:
        dim: D.
        heads: attention heads.
        pool: pooling factor of keys and values (1: none).
    """

    def __init__(self, dim: int, heads: int, pool: int) -> None:
        super().__init__()
        self.pool = pool
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        with torch.no_grad():
            self.attn.out_proj.weight.zero_()
            self.attn.out_proj.bias.zero_()

    def forward(self, visual: torch.Tensor, size: tuple[int, int], pos: torch.Tensor) -> torch.Tensor:
        """(B, N, D) pixels of an h x w grid, (N, D) positions -> (B, N, D)."""
        h, w = size
        x = self.norm(visual)
        if self.pool > 1:
            grid = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)
            # ceil_mode: a grid whose side is not a multiple of the pool keeps its last row.
            pooled = F.avg_pool2d(grid, self.pool, ceil_mode=True, count_include_pad=False)
            hp, wp = pooled.shape[-2:]
            kv = pooled.flatten(2).transpose(1, 2)
            kv_pos = sine_position_encoding(hp, wp, x.shape[2], x.device, x.dtype)
        else:
            kv, kv_pos = x, pos
        return visual + self.attn(x + pos, kv + kv_pos, kv, need_weights=False)[0]


class MIDLayer(nn.Module):
    """One cascaded step: L2V alignment (tokens query pixels), then V2L (pixels query tokens).

    Args:
        dim: D.
        heads: attention heads.
        ffn_ratio: feed-forward expansion.
        pixel_attention: end with a :class:`PixelSelfAttention` step.
        attention_pool: its key/value pooling factor.
    """

    def __init__(
        self, dim: int, heads: int, ffn_ratio: int, pixel_attention: bool = False, attention_pool: int = 2
    ) -> None:
        super().__init__()
        self.l2v_q_norm = nn.LayerNorm(dim)
        self.l2v_kv_norm = nn.LayerNorm(dim)
        self.l2v_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.l2v_ffn = FeedForward(dim, ffn_ratio)
        self.v2l_q_norm = nn.LayerNorm(dim)
        self.v2l_kv_norm = nn.LayerNorm(dim)
        self.v2l_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.v2l_ffn = FeedForward(dim, ffn_ratio)
        self.pixel_attn = PixelSelfAttention(dim, heads, attention_pool) if pixel_attention else None

    def forward(
        self,
        visual: torch.Tensor,
        tokens: torch.Tensor,
        pad: torch.Tensor,
        pos: torch.Tensor,
        size: tuple[int, int],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One L2V + V2L (+ pixel self-attention) step.

        Args:
            visual: V, (B, N, D).
            tokens: language tokens Tl, (B, M, D).
            pad: (B, M) bool, True on padding (key_padding_mask convention).
            pos: (N, D) pixel positional encoding.
            size: (h, w) of V's grid, N = h * w (read by ``pixel_attention``).

        Returns:
            Updated (V, Tl).
        """
        v = self.l2v_kv_norm(visual)
        tokens = tokens + self.l2v_attn(self.l2v_q_norm(tokens), v + pos, v, need_weights=False)[0]
        tokens = self.l2v_ffn(tokens)
        t = self.v2l_kv_norm(tokens)
        delta = self.v2l_attn(self.v2l_q_norm(visual) + pos, t, t, key_padding_mask=pad, need_weights=False)[0]
        visual = self.v2l_ffn(visual + delta)  # ⊕: the V2L output is added back to V
        if self.pixel_attn is not None:
            visual = self.pixel_attn(visual, size, pos)
        return visual, tokens


class FPNRefine(nn.Module):
    """Optional: fuse the stride-4 image level into V (two conv blocks, as LAVT's decoder)."""

    def __init__(self, dim: int, fine_channels: int) -> None:
        super().__init__()
        self.lateral = nn.Conv2d(fine_channels, dim, 1)
        self.blocks = nn.Sequential(
            nn.Conv2d(2 * dim, dim, 3, padding=1, bias=False), group_norm(dim), nn.ReLU(),
            nn.Conv2d(dim, dim, 3, padding=1, bias=False), group_norm(dim), nn.ReLU(),
        )

    def forward(self, visual: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) + (B, C_1, 2h', 2w') -> (B, D, S/4, S/4)."""
        up = F.interpolate(visual, size=fine.shape[-2:], mode="bilinear", align_corners=False)
        return self.blocks(torch.cat([up, self.lateral(fine)], 1))


class MID(nn.Module):
    """Mutual-interaction decoder: K cascaded MIDLayers, then the ⊗ kernel product.

    Args:
        config: depth, heads, kernel source, FPN option.
        dim: D (LGFA width).
        text_dim: H of the prompted text features.
        num_classes: C, kernels produced (1 or 2).
        fine_channels: channels of the stride-4 level (for ``fpn_refine``).
    """

    def __init__(self, config: MIDConfig, dim: int, text_dim: int, num_classes: int, fine_channels: int) -> None:
        super().__init__()
        self.config = config
        self.dim = dim
        self.num_classes = num_classes
        self.text_proj = nn.Linear(text_dim, dim)
        self.layers = nn.ModuleList(
            MIDLayer(dim, config.heads, config.ffn_ratio, config.pixel_attention, config.attention_pool)
            for _ in range(config.num_layers)
        )
        self.token_norm = nn.LayerNorm(dim)
        self.visual_norm = nn.LayerNorm(dim)
        self.kernel = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, num_classes * dim))
        self.refine = FPNRefine(dim, fine_channels) if config.fpn_refine else None
        self.mask_refine = (
            MaskRefine(num_classes, dim, fine_channels, config.refine_width) if config.mask_refine else None
        )

    def forward(
        self, visual: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, fine: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Align both ways and predict low-resolution mask logits.

        Args:
            visual: V from LGFA, (B, D, h, w).
            text: prompted text features Tp, (B, M, H), M = L + P.
            text_mask: (B, M), 1 on real tokens and prompts.
            fine: stride-4 image level (B, C_1, S/4, S/4), used only with ``fpn_refine``.

        Returns:
            Logits (B, C, h, w) (or (B, C, S/4, S/4) with ``fpn_refine`` or ``mask_refine``).
        """
        b, d, h, w = visual.shape
        pos = sine_position_encoding(h, w, d, visual.device, visual.dtype)
        v = visual.flatten(2).transpose(1, 2)  # (B, N, D)
        tokens = self.text_proj(text)
        pad = text_mask == 0
        for layer in self.layers:
            v, tokens = layer(v, tokens, pad, pos, (h, w))
        tokens = self.token_norm(tokens)
        v = self.visual_norm(v).transpose(1, 2).reshape(b, d, h, w)
        if self.refine is not None and fine is not None:
            v = self.refine(v, fine)
        if self.config.kernel_source == "cls":
            summary = tokens[:, 0]
        else:
            weights = text_mask.to(tokens.dtype).unsqueeze(-1)
            summary = (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        kernels = self.kernel(summary).view(b, self.num_classes, d)  # (B, C, D)
        # ⊗: pixel-kernel product; 1/sqrt(D) keeps the initial logits O(1).
        logits = torch.einsum("bdhw,bcd->bchw", v, kernels) * d**-0.5
        if self.mask_refine is not None and fine is not None:
            logits = self.mask_refine(logits, v, fine)
        return logits
