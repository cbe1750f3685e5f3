"""Pixel self-attention in MID: a no-op at start, global reach once trained, cheap pooled keys."""

from __future__ import annotations

import pytest
import torch

from geocrobim.errors import UsageError
from geocrobim.models import TextTokenizer
from geocrobim.models.mid import PixelSelfAttention, sine_position_encoding
from geocrobim.models.registry import get_config
from geocrobim.models.testing import make_test_model


def _grid(h: int, w: int, dim: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(2, h * w, dim), sine_position_encoding(h, w, dim, torch.device("cpu"), torch.float32)


@pytest.mark.parametrize("pool", [1, 2])
def test_starts_as_identity_then_reaches_across_the_grid(pool: int) -> None:
    torch.manual_seed(0)
    h, w = 5, 7  # odd sides: the pooled grid keeps its last row and column
    attention = PixelSelfAttention(16, heads=4, pool=pool)
    visual, pos = _grid(h, w)
    torch.testing.assert_close(attention(visual, (h, w), pos), visual)
    with torch.no_grad():
        attention.attn.out_proj.weight.normal_()
        edited = visual.clone()
        edited[0, -1] += 5.0 * torch.randn(16)  # the far corner of image 0 (not a constant: LayerNorm removes that)
        changed = (attention(edited, (h, w), pos) - attention(visual, (h, w), pos)).abs().amax(-1)
    assert changed[0, 0] > 1e-3  # the opposite corner sees it
    assert changed[1].max() == 0  # the other image does not


def test_model_with_pixel_attention_runs_and_keeps_shapes(tokenizer: TextTokenizer, expressions: list[str]) -> None:
    model = make_test_model(vocab_size=tokenizer.vocab_size, **{"mid.pixel_attention": True})
    size = model.config.image_size
    ids, mask = tokenizer(expressions[:2], model.config.max_tokens)
    image = torch.randn(2, 3, size, size)
    logits = model(image, ids, mask)
    assert logits.shape == (2, 2, size, size)
    logits.sum().backward()
    # Zero-initialised output: only the output projection gets a gradient on the first step.
    layer = model.mid.layers[0].pixel_attn
    assert layer.attn.out_proj.weight.grad.abs().sum() > 0


def test_pixel_attention_config_is_checked() -> None:
    with pytest.raises(UsageError, match="attention_pool=0"):
        get_config("crobim_test", **{"mid.pixel_attention": True, "mid.attention_pool": 0})
