"""Image encoder: 4 NCHW levels, local safetensors weights, clear errors, no pickles."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from geocrobim.errors import CheckpointError
from geocrobim.models import ImageEncoderConfig
from geocrobim.models.image_encoder import ImageEncoder

TINY = {"family": "convnext", "name": "convnext_atto", "widths": (16, 32, 48, 64), "depths": (1, 1, 1, 1)}


@pytest.mark.parametrize(
    "config",
    [
        ImageEncoderConfig(**TINY),
        ImageEncoderConfig(
            family="swin", name="swin_tiny_patch4_window7_224", widths=(16,), depths=(1, 1, 1, 1), heads=(1, 1, 2, 2)
        ),
    ],
)
def test_four_channel_first_levels(config: ImageEncoderConfig) -> None:
    encoder = ImageEncoder(config, image_size=96)
    feats = encoder(torch.randn(2, 3, 96, 96))
    assert encoder.reductions == (4, 8, 16, 32)
    assert [tuple(f.shape) for f in feats] == [
        (2, c, 96 // r, 96 // r) for c, r in zip(encoder.channels, encoder.reductions)
    ]


SWIN = {"family": "swin", "name": "swin_tiny_patch4_window7_224", "widths": (16,), "depths": (1, 1, 1, 1), "heads": (1, 1, 2, 2)}
TIMM_KWARGS = {
    "convnext": {"dims": (16, 32, 48, 64), "depths": (1, 1, 1, 1)},
    "swin": {"embed_dim": 16, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 2, 2), "img_size": 64},
}


@pytest.mark.parametrize(("spec", "probe"), [(TINY, "stages.3.blocks.0.mlp.fc2.weight"), (SWIN, "layers.3.blocks.0.mlp.fc2.weight")])
@pytest.mark.parametrize("num_classes", [0, 7])  # headless files and files with a classifier
def test_local_safetensors_weights_are_loaded(tmp_path: Path, spec: dict, probe: str, num_classes: int) -> None:
    torch.manual_seed(11)
    source = timm.create_model(spec["name"], num_classes=num_classes, **TIMM_KWARGS[spec["family"]])
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    path = tmp_path / "backbone.safetensors"
    save_file(state, str(path))
    encoder = ImageEncoder(ImageEncoderConfig(**spec, pretrained=str(path)), image_size=64)
    loaded = encoder.trunk.state_dict()
    assert torch.equal(loaded[probe], state[probe])
    assert torch.equal(loaded["stem.0.weight" if spec is TINY else "patch_embed.proj.weight"],
                       state["stem.0.weight" if spec is TINY else "patch_embed.proj.weight"])


def test_weights_of_another_size_are_refused_naming_keys(tmp_path: Path) -> None:
    torch.manual_seed(0)
    other = timm.create_model("convnext_atto", dims=(8, 16, 24, 32), depths=(1, 1, 1, 1))
    path = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(path))
    with pytest.raises(CheckpointError, match="shape-mismatched: .*stages.0.blocks.0.conv_dw"):
        ImageEncoder(ImageEncoderConfig(**TINY, pretrained=str(path)), image_size=64)


def test_missing_local_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "swin_base_patch4_window12_384_22k.safetensors"
    with pytest.raises(CheckpointError, match="swin_base_patch4_window12_384_22k.safetensors.*not found"):
        ImageEncoder(ImageEncoderConfig(**TINY, pretrained=str(missing)), image_size=64)


def test_pickled_backbone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "swin_base_patch4_window12_384_22k.pth"
    torch.save({"model": {}}, path)
    with pytest.raises(CheckpointError, match="carries a pickle"):
        ImageEncoder(ImageEncoderConfig(**TINY, pretrained=str(path)), image_size=64)


def test_pretrained_is_skipped_when_not_loading(tmp_path: Path) -> None:
    missing = tmp_path / "absent.safetensors"
    encoder = ImageEncoder(ImageEncoderConfig(**TINY, pretrained=str(missing)), image_size=64, load_pretrained=False)
    assert encoder.channels == (16, 32, 48, 64)


def test_original_microsoft_swin_layout_is_converted(tmp_path: Path) -> None:
    """Keys as in swin_base_patch4_window12_384_22k.pth: downsample at the end of a stage, ``head.``."""
    import re

    torch.manual_seed(5)
    source = timm.create_model(SWIN["name"], num_classes=7, **TIMM_KWARGS["swin"])
    original = {}
    for key, value in source.state_dict().items():
        key = re.sub(r"layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", key)
        original[key.replace("head.fc.", "head.")] = value.contiguous()
    original["layers.0.blocks.0.attn.relative_position_index"] = torch.zeros(16, 16, dtype=torch.long)  # a buffer
    path = tmp_path / "swin_original.safetensors"
    save_file(original, str(path))
    encoder = ImageEncoder(ImageEncoderConfig(**SWIN, pretrained=str(path)), image_size=64)
    loaded = encoder.trunk.state_dict()
    reference = source.state_dict()
    assert torch.equal(loaded["layers.1.downsample.reduction.weight"], reference["layers.1.downsample.reduction.weight"])
    assert torch.equal(loaded["layers.3.blocks.0.attn.qkv.weight"], reference["layers.3.blocks.0.attn.qkv.weight"])
