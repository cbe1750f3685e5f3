"""CroBIM (Dong et al., arXiv 2410.08613) for referring segmentation of remote-sensing images.

One module per box of the official figure: :mod:`.image_encoder`, :mod:`.text_encoder`,
:mod:`.capm`, :mod:`.lgfa`, :mod:`.mid`, :mod:`.head`, wired in :mod:`.crobim`. Presets in
:mod:`.registry`, safetensors checkpoints in :mod:`.checkpoint`, batched inference in
:mod:`.predictor`. See docs/model.md for the mapping of paper terms to classes.
"""

from __future__ import annotations

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()  # before timm/transformers import torchvision

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
from geocrobim.models.predictor import Predictor
from geocrobim.models.registry import count_parameters, create_model, get_config, list_models
from geocrobim.models.text_encoder import TextTokenizer

__all__ = [
    "CAPMConfig",
    "Checkpoint",
    "CroBIM",
    "CroBIMConfig",
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
