"""Stride-4 mask refinement and the upsampling convention of the output head."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geocrobim.errors import UsageError
from geocrobim.models import TextTokenizer
from geocrobim.models.head import UpsampleHead
from geocrobim.models.refine import MaskRefine
from geocrobim.models.registry import get_config
from geocrobim.models.testing import make_test_model


def test_refine_starts_as_the_plain_upsampling_and_doubles_resolution() -> None:
    torch.manual_seed(0)
    refine = MaskRefine(num_classes=2, dim=16, fine_channels=8, width=8)
    logits, visual, fine = torch.randn(3, 2, 20, 28), torch.randn(3, 16, 20, 28), torch.randn(3, 8, 40, 56)
    out = refine(logits, visual, fine)
    assert out.shape == (3, 2, 40, 56)
    torch.testing.assert_close(out, F.interpolate(logits, size=(40, 56), mode="bilinear", align_corners=False))
    with torch.no_grad():
        refine.out.weight.normal_()
    edited = fine.clone()
    edited[0, :, 4, 4] += 5.0  # an edge in the image level changes the answer near it, in that image only
    with torch.no_grad():
        changed = (refine(logits, visual, edited) - refine(logits, visual, fine)).abs().amax(1)
    # Far away only the group-norm statistics move: over 100 random initialisations the change
    # within the two 3x3 convolutions' reach was at least 7.9x the largest change far from it.
    assert changed[0, 2:7, 2:7].max() > 5 * changed[0, 20:, 30:].max() and changed[1:].max() == 0


def test_model_with_refine_decodes_at_stride_4(tokenizer: TextTokenizer, expressions: list[str]) -> None:
    model = make_test_model(vocab_size=tokenizer.vocab_size, **{"mid.mask_refine": True, "mid.refine_width": 8})
    size = model.config.image_size
    seen: list[tuple[int, ...]] = []
    model.head.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    ids, mask = tokenizer(expressions[:2], model.config.max_tokens)
    with torch.no_grad():
        logits = model(torch.randn(2, 3, size, size), ids, mask)
    assert logits.shape == (2, 2, size, size)
    assert seen == [(2, 2, size // 4, size // 4)]


def test_refine_config_is_checked() -> None:
    with pytest.raises(UsageError, match="choose one"):
        get_config("crobim_test", **{"mid.mask_refine": True, "mid.fpn_refine": True})
    with pytest.raises(UsageError, match="refine_width=12"):
        get_config("crobim_test", **{"mid.mask_refine": True, "mid.refine_width": 12})


@pytest.mark.parametrize(("align_corners", "max_shift"), [(False, 0.01), (True, 2.0)])
def test_head_convention_and_where_an_object_lands(align_corners: bool, max_shift: float) -> None:
    """A 16 px square near the far edge, pooled 8x and upsampled back: where does its centre land?"""
    truth = torch.zeros(1, 1, 256, 256)
    truth[..., 224:240, 224:240] = 1.0
    low = F.avg_pool2d(truth, 8)
    up = UpsampleHead(1, align_corners=align_corners)(low, 256)[0, 0]
    ys, xs = torch.nonzero(up > 0.5, as_tuple=True)
    shift = max(abs(ys.float().mean().item() - 231.5), abs(xs.float().mean().item() - 231.5))
    if align_corners:
        assert shift > max_shift  # the lineage's convention pulls it towards the corner
    else:
        assert shift < max_shift
