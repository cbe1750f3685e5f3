"""Presets, create_model overrides, close-match errors and the paper-size parameter count."""

from __future__ import annotations

import time

import pytest

from geocrobim.errors import ModelNotFoundError
from geocrobim.models import count_parameters, create_model, list_models


def test_presets_listed() -> None:
    assert {"crobim_swin_b", "crobim_convnext_b", "crobim_small", "crobim_test"} <= set(list_models())


def test_unknown_preset_lists_close_names() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        create_model("crobim_swinb")
    message = str(info.value)
    assert "crobim_swin_b" in message and "did you mean" in message
    assert isinstance(info.value, KeyError)  # callers catching KeyError keep working


def test_overrides_reach_the_built_model() -> None:
    model = create_model("crobim_test", image_size=96, num_classes=1, **{"text_encoder.layers": 1})
    assert model.config.image_size == 96 and model.head.bias.numel() == 1
    assert len(model.text_encoder.bert.encoder.layer) == 1


def test_paper_preset_is_swin_b_and_bert_base_in_range() -> None:
    start = time.perf_counter()
    total = count_parameters("crobim_swin_b")  # meta device: no weights allocated
    assert 200e6 <= total <= 300e6, total
    assert time.perf_counter() - start < 20


def test_paper_preset_structure_on_meta_device() -> None:
    import torch

    from geocrobim.models import CroBIM, get_config

    with torch.device("meta"):
        model = CroBIM(get_config("crobim_swin_b"), load_pretrained=False)
    assert model.image_encoder.channels == (128, 256, 512, 1024)
    assert model.image_encoder.reductions == (4, 8, 16, 32)
    assert model.text_encoder.bert.config.hidden_size == 768
    assert len(model.text_encoder.bert.encoder.layer) == 12
    assert model.config.image_size == 480


def test_small_preset_fits_the_embedded_budget() -> None:
    total = count_parameters("crobim_small")
    assert total * 2 <= 40e6  # fp16 safetensors <= 40 MB


@pytest.mark.slow
def test_paper_preset_builds_for_real() -> None:
    model = create_model("crobim_swin_b")
    total = sum(p.numel() for p in model.parameters())
    assert total == count_parameters("crobim_swin_b")
    assert 200e6 <= total <= 300e6
