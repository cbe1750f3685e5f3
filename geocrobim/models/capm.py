"""CAPM box of the CroBIM figure: context-aware prompt modulation.

Figure: multi-level image features -> "Pooling & Concat" -> "Vision-to-Language
Interaction" with learnable prompts -> context-aware prompts, which are appended to the
words and encoded by BERT. The internals are [INFERRED] (the paper does not specify them):
average-pool each level to g x g, project to the text width, add a level embedding,
and let the prompts cross-attend to those visual tokens in a pre-LN transformer block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from geocrobim.models.config import CAPMConfig


class FeedForward(nn.Module):
    """Pre-LN MLP ``x + W2 GELU(W1 LN(x))`` (used by CAPM and MID)."""

    def __init__(self, dim: int, ratio: int = 4) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * ratio)
        self.fc2 = nn.Linear(dim * ratio, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D), residual included."""
        return x + self.fc2(F.gelu(self.fc1(self.norm(x))))


class VisualContextPool(nn.Module):
    """"Pooling & Concat": 4 levels -> ``4 * g * g`` visual context tokens.

    Args:
        in_channels: channels of the 4 levels.
        dim: output width (the text encoder's hidden size).
        pool_size: g.
    """

    def __init__(self, in_channels: tuple[int, ...], dim: int, pool_size: int) -> None:
        super().__init__()
        self.pool_size = pool_size
        self.proj = nn.ModuleList(nn.Linear(c, dim) for c in in_channels)
        self.level_embed = nn.Parameter(torch.zeros(len(in_channels), dim))
        nn.init.normal_(self.level_embed, std=0.02)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Pool, project and concatenate.

        Args:
            feats: 4 tensors (B, C_i, H_i, W_i).

        Returns:
            Vc, (B, 4 * g * g, dim).
        """
        tokens = []
        for i, (f, proj) in enumerate(zip(feats, self.proj)):
            pooled = F.adaptive_avg_pool2d(f, self.pool_size).flatten(2).transpose(1, 2)  # (B, g*g, C_i)
            tokens.append(proj(pooled) + self.level_embed[i])
        return torch.cat(tokens, dim=1)


class CAPM(nn.Module):
    """Context-aware prompt modulation: learnable prompts that attend to pooled vision.

    Args:
        config: number of prompts, pooling size, optional prompt self-attention.
        in_channels: channels of the 4 image levels.
        dim: text hidden size H (prompts live in BERT's embedding space).
        heads: attention heads (BERT's head count, which divides H).
    """

    def __init__(self, config: CAPMConfig, in_channels: tuple[int, ...], dim: int, heads: int) -> None:
        super().__init__()
        self.config = config
        self.prompts = nn.Parameter(torch.zeros(config.num_prompts, dim))
        nn.init.normal_(self.prompts, std=0.02)
        self.pool = VisualContextPool(in_channels, dim, config.pool_size)
        self.self_attn: nn.MultiheadAttention | None = None
        if config.prompt_self_attn:
            self.self_norm = nn.LayerNorm(dim)
            self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.q_norm = nn.LayerNorm(dim)
        self.kv_norm = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ffn = FeedForward(dim)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Vision-to-language interaction.

        Args:
            feats: 4 image levels (B, C_i, H_i, W_i).

        Returns:
            Context-aware prompts Pi_c, (B, P, H).
        """
        context = self.pool(feats)
        prompts = self.prompts.unsqueeze(0).expand(context.shape[0], -1, -1)
        if self.self_attn is not None:
            q = self.self_norm(prompts)
            prompts = prompts + self.self_attn(q, q, q, need_weights=False)[0]
        kv = self.kv_norm(context)
        prompts = prompts + self.cross_attn(self.q_norm(prompts), kv, kv, need_weights=False)[0]
        return self.ffn(prompts)
