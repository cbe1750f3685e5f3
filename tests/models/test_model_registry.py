"""Presets, create_model overrides, close-match errors, parameter counts (recorded and measured)."""

from __future__ import annotations

import time

import pytest

from geocrobim.errors import ModelNotFoundError
from geocrobim.models import count_parameters, create_model, get_config, list_models
from geocrobim.models.registry import PRESET_PARAMETERS, config_digest, preset_parameters


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


def test_recorded_counts_are_the_measured_ones() -> None:
    # `geocrobim models` prints PRESET_PARAMETERS without importing torch: every figure must
    # be what the meta device counts for the preset's current config (update the table when not).
    assert set(PRESET_PARAMETERS) == set(list_models())
    for name in list_models():
        digest, count = PRESET_PARAMETERS[name]
        assert digest == config_digest(get_config(name)), f"{name}: config changed; re-measure its count"
        assert count == count_parameters(name), name
        assert preset_parameters(name) == count


def test_meta_count_equals_the_built_model() -> None:
    model = create_model("crobim_test")
    assert sum(p.numel() for p in model.parameters()) == count_parameters("crobim_test") == 239_367


def test_changed_preset_is_counted_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PRESET_PARAMETERS, "crobim_test", ("000000000000", 1))
    assert preset_parameters("crobim_test") == count_parameters("crobim_test")
