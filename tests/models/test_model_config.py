"""CroBIMConfig: JSON round trip, strict parsing, overrides, validation."""

from __future__ import annotations

import json

import pytest

from geocrobim.errors import CheckpointError, UsageError
from geocrobim.models import CroBIMConfig, get_config


def test_round_trip_through_json_is_identity() -> None:
    config = get_config("crobim_swin_b", **{"image_encoder.widths": [128, 256, 512, 1024]})
    text = json.dumps(config.to_dict())
    again = CroBIMConfig.from_dict(json.loads(text))
    assert again == config
    assert again.image_encoder.widths == (128, 256, 512, 1024)


def test_unknown_key_is_named() -> None:
    data = get_config("crobim_test").to_dict()
    data["lgfa"]["widht"] = 32
    with pytest.raises(CheckpointError, match="widht"):
        CroBIMConfig.from_dict(data)


def test_wrong_type_and_literal_are_refused() -> None:
    data = get_config("crobim_test").to_dict()
    data["image_size"] = "64"
    with pytest.raises(CheckpointError, match="image_size"):
        CroBIMConfig.from_dict(data)
    data = get_config("crobim_test").to_dict()
    data["lgfa"]["deficit_mode"] = "bogus"
    with pytest.raises(CheckpointError, match="deficit_mode"):
        CroBIMConfig.from_dict(data)


def test_replace_accepts_top_level_nested_and_dotted_keys() -> None:
    base = get_config("crobim_test")
    new = base.replace(image_size=128, num_classes=1, lgfa={"deficit_mode": "no_word_token"}, **{"mid.num_layers": 2})
    assert (new.image_size, new.num_classes, new.lgfa.deficit_mode, new.mid.num_layers) == (128, 1, "no_word_token", 2)
    assert new.lgfa.width == base.lgfa.width  # untouched siblings survive a nested override
    with pytest.raises(UsageError, match="mid.bogus"):
        base.replace(**{"mid.bogus": 1})


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"image_size": 100}, "image_size"),
        ({"num_classes": 3}, "num_classes"),
        ({"max_tokens": 60}, "max_position"),
        ({"mid.heads": 5}, "mid.heads"),
    ],
)
def test_inconsistent_configs_are_usage_errors(override: dict, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        get_config("crobim_test", **override)
