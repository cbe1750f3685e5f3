"""Image Encoder box of the CroBIM figure: a unimodal 4-scale timm backbone.

The figure draws no language arrow into the image encoder, so unlike LAVT/RMSIN this is
a plain Swin or ConvNeXt (timm) returning 4 pyramid levels at strides 4/8/16/32.
timm's Swin works in NHWC internally; :meth:`ImageEncoder.forward` asks timm's
``forward_intermediates(output_fmt="NCHW")`` for channel-first maps, the one place where
the layout is decided, and every other module sees NCHW only.

Pretrained weights are loaded only when ``ImageEncoderConfig.pretrained`` asks for them:
a local ``.safetensors`` file (never a pickle) or a timm pretrained tag / ``hf-hub:`` id.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()  # before timm/transformers import torchvision

import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from timm.layers import LayerNorm2d
from torch import nn

from geocrobim.errors import CheckpointError, UsageError
from geocrobim.models.config import ImageEncoderConfig
from geocrobim.models.pretrained import PACKAGE_SCHEME, packaged_encoder_weights
from geocrobim.models.safety import WEIGHT_SUFFIXES, refuse_pickle

logger = logging.getLogger(__name__)

#: timm attributes after the last stage (classifier, final norms); the encoder replaces them.
#: (EfficientNet's are its 1x1 ``conv_head``, its ``bn2`` and its ``classifier``.)
HEAD_ATTRS = ("head", "norm", "fc_norm", "head_drop", "conv_head", "bn2", "classifier")


class ImageEncoder(nn.Module):
    """timm Swin/ConvNeXt trunk with a LayerNorm per output level.

    Args:
        config: which backbone and size.
        image_size: the square input side the model runs at (Swin builds its window masks for it).
        load_pretrained: False skips ``config.pretrained`` (used when a checkpoint's own
            weights are about to be loaded anyway).

    Attributes:
        channels: channels of the 4 levels, e.g. (128, 256, 512, 1024) for Swin-B.
        reductions: strides of the 4 levels, (4, 8, 16, 32).
    """

    trunk: Any  # a timm model: its methods (forward_intermediates, ...) depend on the architecture

    def __init__(self, config: ImageEncoderConfig, image_size: int, load_pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        self.trunk = _create_trunk(config, image_size)
        # Keep only what the 4 taps need: the classifier head and the final norm would get no gradient.
        self.trunk.prune_intermediate_layers(indices=4, prune_norm=True, prune_head=True)
        # timm versions differ in what they prune (some keep ConvNeXt's head.norm); drop every head part.
        for attr in HEAD_ATTRS:
            if isinstance(getattr(self.trunk, attr, None), nn.Module):
                setattr(self.trunk, attr, nn.Identity())
        if load_pretrained and config.pretrained is not None:
            load_trunk_weights(self.trunk, _weights_file(config), config.name)
        info = self.trunk.feature_info[-4:]
        self.channels: tuple[int, ...] = tuple(int(i["num_chs"]) for i in info)
        self.reductions: tuple[int, ...] = tuple(int(i["reduction"]) for i in info)
        # One norm per level (RMSIN's norm0..norm3): timm's intermediates are un-normalised.
        self.norms = nn.ModuleList(LayerNorm2d(c) for c in self.channels)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Encode images.

        Args:
            images: (B, 3, S, S) ImageNet-normalised.

        Returns:
            4 tensors (B, C_i, S / r_i, S / r_i), r = (4, 8, 16, 32), channel-first.
        """
        feats = self.trunk.forward_intermediates(images, indices=4, intermediates_only=True, output_fmt="NCHW")
        return [norm(f) for norm, f in zip(self.norms, feats)]


def _timm_kwargs(config: ImageEncoderConfig, image_size: int) -> dict[str, Any]:
    """Size keywords timm's model class takes for a custom-size backbone."""
    kwargs: dict[str, Any] = {"num_classes": 0, "drop_path_rate": config.drop_path_rate}
    if config.family == "swin":
        kwargs["img_size"] = image_size
        if config.widths is not None:
            kwargs["embed_dim"] = config.widths[0]
        if config.heads is not None:
            kwargs["num_heads"] = tuple(config.heads)
        if config.window_size is not None:
            kwargs["window_size"] = config.window_size
    elif config.family == "efficientnet":
        if config.widths is not None or config.depths is not None:
            raise UsageError(
                "image_encoder.widths/depths do not apply to EfficientNet; pick a timm size by name "
                "(efficientnet_lite0 .. efficientnet_lite4) and leave widths and depths unset"
            )
        return kwargs
    elif config.widths is not None:
        kwargs["dims"] = tuple(config.widths)
    if config.depths is not None:
        kwargs["depths"] = tuple(config.depths)
    return kwargs


def _create_trunk(config: ImageEncoderConfig, image_size: int) -> nn.Module:
    """Random-initialised timm model (weights, if any, are loaded after pruning)."""
    return timm.create_model(config.name, pretrained=False, **_timm_kwargs(config, image_size))


def _weights_file(config: ImageEncoderConfig) -> Path:
    """Local safetensors file for ``config.pretrained`` (downloaded only for a hub tag)."""
    source = str(config.pretrained)
    if source.startswith(PACKAGE_SCHEME):
        return packaged_encoder_weights(source.removeprefix(PACKAGE_SCHEME))
    path = Path(source).expanduser() if _looks_like_path(source) else _download_safetensors(source)
    if not path.is_file():
        raise CheckpointError(
            f"image encoder weights {str(path)!r} not found; provide that .safetensors file "
            f"(timm or original {config.name} weights) or set image_encoder.pretrained=None"
        )
    refuse_pickle(path)
    return path


def load_trunk_weights(trunk: nn.Module, path: Path, name: str) -> None:
    """Load a safetensors file into a timm trunk, checking that every trunk weight is covered.

    A file in timm's layout loads as is; any other layout goes through the architecture's
    own ``checkpoint_filter_fn``, which converts original (e.g. Microsoft Swin) releases and
    resizes relative-position tables to the window size. Classifier keys are ignored
    because the trunk has no head.
    """
    logger.info("loading image encoder weights from %s", path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{str(path)!r} is not a readable safetensors file ({exc})") from exc
    expected = trunk.state_dict()
    if not _fits(_drop_head(state, expected), expected):
        # Another layout (original Swin/ConvNeXt releases, other window sizes): let timm convert it.
        # Only then: some timm versions mistake a headless timm-layout Swin file for an original one.
        filter_fn = getattr(sys.modules[type(trunk).__module__], "checkpoint_filter_fn", None)
        if filter_fn is not None:
            state = filter_fn(state, trunk)
    state = _drop_head(state, expected)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or shapes:
        detail = "; ".join(
            f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape-mismatched", shapes))
            if keys
        )
        raise CheckpointError(f"image encoder weights {str(path)!r} do not fit {name}: {detail}")
    trunk.load_state_dict(state, strict=True)


def _drop_head(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove classifier and final-norm weights: they belong to parts the encoder dropped."""
    head = tuple(f"{a}." for a in HEAD_ATTRS)
    return {k: v for k, v in state.items() if k in expected or not k.startswith(head)}


def _fits(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> bool:
    return set(state) == set(expected) and all(state[k].shape == expected[k].shape for k in expected)


def _download_safetensors(source: str) -> Path:
    """Fetch ``model.safetensors`` (never a pickle) of a timm tag or ``hf-hub:`` repo, only because asked."""
    from huggingface_hub import hf_hub_download

    if source.startswith("hf-hub:"):
        repo = source.removeprefix("hf-hub:")
    else:
        cfg = timm.models.get_pretrained_cfg(source)
        hub_id: str | None = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
        if not hub_id:
            raise CheckpointError(
                f"timm has no hub weights for {source!r}; set image_encoder.pretrained to a local .safetensors file"
            )
        repo = hub_id
    logger.info("downloading image encoder weights from hf-hub:%s", repo)
    try:
        return Path(hf_hub_download(repo, "model.safetensors"))
    except Exception as exc:
        raise CheckpointError(
            f"could not fetch image encoder weights hf-hub:{repo} ({type(exc).__name__}); offline, download its "
            "model.safetensors once and set image_encoder.pretrained to that local path"
        ) from exc


def _looks_like_path(source: str) -> bool:
    """A local file rather than a timm tag: path separators, a weights suffix, or it exists."""
    if source.startswith(("hf-hub:", PACKAGE_SCHEME)):
        return False
    return "/" in source or "\\" in source or source.endswith(WEIGHT_SUFFIXES) or Path(source).expanduser().exists()
