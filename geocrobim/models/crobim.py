"""The whole CroBIM model (Dong et al., arXiv 2410.08613), wired as the official figure.

::

    image ─► ImageEncoder ─► F1..F4 ─► CAPM ─► prompts Πc
    words + Πc ─► TextEncoder (pass a) ─► Tp
    words ─────► TextEncoder (pass b) ─► T
    F1..F4 + T ─► LGFA ─► V
    V + Tp ─► MID (K x [L2V, V2L, ⊕], then ⊗) ─► UpsampleHead ─► logits (B, C, S, S)

:meth:`CroBIM.forward` pairs image i with expression i. :meth:`CroBIM.forward_many`
scores every window against every expression: the image encoder runs once per window,
the prompt-free BERT pass once per expression (see :meth:`CroBIM.encode_text`), and only
CAPM, the prompted BERT pass, LGFA and MID run per (window, expression) pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from geocrobim.errors import UsageError
from geocrobim.models.capm import CAPM
from geocrobim.models.config import CroBIMConfig
from geocrobim.models.head import UpsampleHead, foreground_logit
from geocrobim.models.image_encoder import ImageEncoder
from geocrobim.models.lgfa import LGFA
from geocrobim.models.mid import MID
from geocrobim.models.text_encoder import TextEncoder


@dataclass
class TextFeatures:
    """Tokenised expressions and their prompt-free BERT features (reusable across windows).

    Attributes:
        expressions: the E source strings (may be empty when built from ids).
        input_ids: (E, L) long.
        attention_mask: (E, L) long.
        word_features: (E, L, H) prompt-free BERT output, or None when the model runs a
            single (prompted) text pass.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    word_features: torch.Tensor | None = None
    expressions: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def to(self, device: torch.device | str) -> TextFeatures:
        """Copy onto ``device``."""
        words = None if self.word_features is None else self.word_features.to(device)
        return TextFeatures(self.input_ids.to(device), self.attention_mask.to(device), words, list(self.expressions))


class CroBIM(nn.Module):
    """Cross-modal bidirectional interaction model for referring segmentation.

    Args:
        config: the full model configuration.
        load_pretrained: load the encoders' ``pretrained`` weights if configured (False
            when a checkpoint's weights are loaded right after).
    """

    def __init__(self, config: CroBIMConfig, load_pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        self.image_encoder = ImageEncoder(config.image_encoder, config.image_size, load_pretrained)
        self.text_encoder = TextEncoder(config.text_encoder, load_pretrained)
        channels = self.image_encoder.channels
        text_dim = config.text_encoder.hidden
        self.capm = CAPM(config.capm, channels, text_dim, config.text_encoder.heads)
        self.lgfa = LGFA(config.lgfa, channels, text_dim)
        self.mid = MID(config.mid, config.lgfa.width, text_dim, config.num_classes, channels[0])
        self.head = UpsampleHead(config.num_classes, config.align_corners)

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def encode_image(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, S, S) normalised -> 4 levels (B, C_i, S / r_i, S / r_i)."""
        return self.image_encoder(images)

    def encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, expressions: list[str] | None = None
    ) -> TextFeatures:
        """Prompt-free text pass, once per expression (skipped with ``capm.text_passes == 1``).

        Args:
            input_ids: (E, L) long.
            attention_mask: (E, L).
            expressions: optional source strings, kept for reporting.

        Returns:
            TextFeatures with ``word_features`` (E, L, H) or None.
        """
        self._check_text(input_ids, attention_mask)
        words = self.text_encoder(input_ids, attention_mask) if self.config.capm.text_passes == 2 else None
        return TextFeatures(input_ids, attention_mask, words, list(expressions or []))

    def decode(
        self,
        feats: list[torch.Tensor],
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        word_features: torch.Tensor | None,
    ) -> torch.Tensor:
        """Everything after the image encoder and the prompt-free text pass, for N pairs.

        Args:
            feats: 4 levels (N, C_i, h_i, w_i).
            input_ids: (N, L) long.
            attention_mask: (N, L).
            word_features: (N, L, H) prompt-free features, or None to take them from the
                prompted pass (``text_passes == 1``).

        Returns:
            Logits (N, C, S, S).
        """
        prompts = self.capm(feats)  # CAPM: vision -> language
        prompted, prompted_mask = self.text_encoder.forward_prompted(input_ids, attention_mask, prompts)
        if word_features is None:
            word_features = prompted[:, : input_ids.shape[1]]
        visual = self.lgfa(feats, word_features, attention_mask, self.image_size)  # language -> vision
        low = self.mid(visual, prompted, prompted_mask, fine=feats[0])
        return self.head(low, self.image_size)

    def forward(self, images: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Segment image i with expression i.

        Args:
            images: (B, 3, H, W) ImageNet-normalised, any H, W (resized to S and back).
            input_ids: (B, L) long.
            attention_mask: (B, L).

        Returns:
            Logits (B, C, H, W), C = ``config.num_classes``.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise UsageError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        if input_ids.shape[0] != images.shape[0]:
            raise UsageError(f"{images.shape[0]} images but {input_ids.shape[0]} expressions; forward pairs them 1:1")
        height, width = images.shape[-2:]
        feats = self.encode_image(self._to_model_size(images))
        text = self.encode_text(input_ids, attention_mask)
        logits = self.decode(feats, input_ids, attention_mask, text.word_features)
        return self._to_input_size(logits, height, width)

    def forward_many(self, images: torch.Tensor, text: TextFeatures, max_pairs: int | None = None) -> torch.Tensor:
        """Score every window against every expression.

        Args:
            images: (B, 3, H, W) ImageNet-normalised windows.
            text: E expressions from :meth:`encode_text` (cache it across calls).
            max_pairs: decode at most this many (window, expression) pairs at once
                (bounds memory); None decodes all B * E together.

        Returns:
            Foreground logits (B, E, H, W); ``sigmoid`` gives the probability for both
            1- and 2-class heads (see :func:`~geocrobim.models.head.foreground_logit`).
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise UsageError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        b, e = images.shape[0], len(text)
        height, width = images.shape[-2:]
        feats = self.encode_image(self._to_model_size(images))  # once per window
        # Pair k = window (k // E), expression (k % E).
        window_of = torch.arange(b * e, device=images.device) // e
        expr_of = torch.arange(b * e, device=images.device) % e
        step = b * e if max_pairs is None else max(1, int(max_pairs))
        chunks = []
        for start in range(0, b * e, step):
            wi, ei = window_of[start : start + step], expr_of[start : start + step]
            words = None if text.word_features is None else text.word_features[ei]
            logits = self.decode([f[wi] for f in feats], text.input_ids[ei], text.attention_mask[ei], words)
            chunks.append(foreground_logit(logits))
        fg = torch.cat(chunks, 0).view(b, e, self.image_size, self.image_size)
        return self._to_input_size(fg, height, width)

    def _check_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> None:
        if input_ids.ndim != 2 or input_ids.shape != attention_mask.shape:
            raise UsageError(
                f"input_ids {tuple(input_ids.shape)} and attention_mask {tuple(attention_mask.shape)} "
                "must both be (E, L)"
            )
        if input_ids.shape[1] + self.config.capm.num_prompts > self.config.text_encoder.max_position:
            raise UsageError(
                f"{input_ids.shape[1]} tokens + {self.config.capm.num_prompts} prompts exceed the text encoder's "
                f"{self.config.text_encoder.max_position} positions; tokenise with max_tokens={self.config.max_tokens}"
            )

    def _to_model_size(self, images: torch.Tensor) -> torch.Tensor:
        size = self.image_size
        if images.shape[-2:] == (size, size):
            return images
        shrink = images.shape[-2] > size or images.shape[-1] > size
        return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)

    @staticmethod
    def _to_input_size(logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
        if logits.shape[-2:] == (height, width):
            return logits
        lead = logits.shape[:-2]
        flat = logits.reshape(-1, 1, *logits.shape[-2:]) if logits.ndim != 4 else logits
        out = F.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False)
        return out.reshape(*lead, height, width)
