"""CroBIM (Dong et al., arXiv 2410.08613) for referring segmentation of remote-sensing images.

One module per box of the official figure: :mod:`.image_encoder`, :mod:`.text_encoder`,
:mod:`.capm`, :mod:`.lgfa`, :mod:`.mid`, :mod:`.head`, wired in :mod:`.crobim`. Presets in
:mod:`.registry`, safetensors checkpoints in :mod:`.checkpoint`, batched inference in
:mod:`.predictor`. See docs/model.md for the mapping of paper terms to classes.

The names below are exported lazily (PEP 562): importing the package, or its torch-free
modules (:mod:`.config`, :mod:`.registry`, :mod:`.checkpoint_files`, :mod:`.device`),
loads neither torch nor timm, so ``geocrobim models`` and the option checks of a run
stay fast. The modules that import timm or transformers set up torchvision first
(:func:`geocrobim.compat.ensure_torchvision_importable`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geocrobim.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from geocrobim.models.config import (
        CAPMConfig,
        CroBIMConfig,
        ImageEncoderConfig,
        LGFAConfig,
        MIDConfig,
        TextEncoderConfig,
    )
    from geocrobim.models.crobim import CroBIM, TextFeatures
    from geocrobim.models.predictor import FlipEnsemble, Predictor
    from geocrobim.models.registry import count_parameters, create_model, get_config, list_models
    from geocrobim.models.text_encoder import TextTokenizer

__all__ = [
    "CAPMConfig",
    "Checkpoint",
    "CroBIM",
    "CroBIMConfig",
    "FlipEnsemble",
    "ImageEncoderConfig",
    "LGFAConfig",
    "MIDConfig",
    "Predictor",
    "TextEncoderConfig",
    "TextFeatures",
    "TextTokenizer",
    "count_parameters",
    "create_model",
    "get_config",
    "list_models",
    "load_checkpoint",
    "save_checkpoint",
]

_HOMES = {
    "Checkpoint": "checkpoint", "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
    "CAPMConfig": "config", "CroBIMConfig": "config", "ImageEncoderConfig": "config", "LGFAConfig": "config",
    "MIDConfig": "config", "TextEncoderConfig": "config",
    "CroBIM": "crobim", "TextFeatures": "crobim", "Predictor": "predictor", "FlipEnsemble": "predictor",
    "TextTokenizer": "text_encoder",
    "count_parameters": "registry", "create_model": "registry", "get_config": "registry", "list_models": "registry",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
