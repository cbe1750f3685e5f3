"""Typed, frozen configuration of a CroBIM model (saved as ``config.json`` in every checkpoint).

One dataclass per box of the CroBIM figure (arXiv 2410.08613) plus the whole-model
:class:`CroBIMConfig`. Every default that the paper does not state is marked
``[INFERRED]`` (docs/model.md lists them) and is a field here so it can be changed
without code.

``to_dict``/``from_dict`` round-trip through plain JSON types. ``from_dict`` is
strict: an unknown key or a wrong value is a :class:`~geocrobim.errors.CheckpointError`
naming the key, so a checkpoint written by a different version fails loudly.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar

from geocrobim.errors import CheckpointError, UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class ImageEncoderConfig:
    """The unimodal 4-scale image encoder (timm Swin, ConvNeXt or EfficientNet).

    Attributes:
        family: ``"swin"``, ``"convnext"`` or ``"efficientnet"``; decides which size keywords
            timm gets (EfficientNet takes none: only timm's named sizes).
        name: timm architecture name, e.g. ``"swin_base_patch4_window12_384"``.
        widths: channels of the 4 stages for a custom-size model (Swin: ``embed_dim`` is
            ``widths[0]`` and must double per stage; ConvNeXt: ``dims``). None keeps timm's.
        depths: blocks per stage for a custom-size model; None keeps timm's.
        heads: Swin attention heads per stage for a custom-size model; None keeps timm's.
        window_size: Swin window size; None keeps timm's.
        drop_path_rate: stochastic depth rate (0.3 in the LAVT/RMSIN Swin-B recipe).
        pretrained: None (random init, nothing downloaded), a local ``.safetensors`` file
            with timm- or original-layout weights, ``"package:<timm name>"`` for weights a
            registry package ships (``package:efficientnet_lite0``, see
            :mod:`geocrobim.models.pretrained`), or a timm pretrained tag / ``hf-hub:`` id
            (downloaded through timm only because it was asked for).
    """

    family: Literal["swin", "convnext", "efficientnet"] = "swin"
    name: str = "swin_base_patch4_window12_384"
    widths: tuple[int, ...] | None = None
    depths: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None
    window_size: int | None = None
    drop_path_rate: float = 0.0
    pretrained: str | None = None


@dataclass(frozen=True)
class TextEncoderConfig:
    """The BERT text encoder (``transformers.BertModel`` without the pooler).

    Attributes:
        hidden: hidden size (768 for BERT-base).
        layers: transformer layers.
        heads: attention heads.
        intermediate: feed-forward width.
        vocab_size: rows of the word-embedding table; must cover the tokenizer's vocab.
        max_position: position embeddings; must cover ``max_tokens + num_prompts``.
        pretrained: None, a local directory holding ``config.json`` + ``model.safetensors``
            (``save_pretrained`` output), or a Hugging Face hub id (downloaded only because
            it was asked for).
        trainable_layers: None trains every BERT parameter; an int ``n`` freezes the
            embeddings and every layer from ``n`` on (RMSIN trains layers 0-9 only: ``10``).
    """

    hidden: int = 768
    layers: int = 12
    heads: int = 12
    intermediate: int = 3072
    vocab_size: int = 30522
    max_position: int = 512
    pretrained: str | None = None
    trainable_layers: int | None = None


@dataclass(frozen=True)
class CAPMConfig:
    """Context-aware prompt modulation [INFERRED internals: the paper does not specify them].

    Attributes:
        num_prompts: learnable prompt tokens P appended after the words (figure draws 4).
        pool_size: each visual level is average-pooled to ``pool_size x pool_size``.
        prompt_self_attn: self-attention among the prompts before they attend to vision.
        text_passes: 2 runs BERT twice with shared weights (words alone for LGFA, words +
            prompts for MID), as the figure draws; 1 runs it once and gives LGFA the word
            slots of the prompted pass.
    """

    num_prompts: int = 4
    pool_size: int = 1
    prompt_self_attn: bool = False
    text_passes: Literal[1, 2] = 2


@dataclass(frozen=True)
class LGFAConfig:
    """Language-guided feature aggregation [INFERRED internals: the paper does not specify them].

    Attributes:
        width: common channel width D of the fused map V.
        fusion_stride: stride of V relative to the input (8 or 4).
        deficit_mode: ``"complement"``: ``V = Fagg + gamma * (1 - max_i A_i) * Fcomp``;
            ``"no_word_token"``: a learnable null word in every pixel-word softmax.
    """

    width: int = 256
    fusion_stride: Literal[4, 8] = 8
    deficit_mode: Literal["complement", "no_word_token"] = "complement"


@dataclass(frozen=True)
class MIDConfig:
    """Mutual-interaction decoder [INFERRED internals: the paper does not specify them].

    Attributes:
        num_layers: K cascaded L2V + V2L layers (the figure stacks 3).
        heads: attention heads (must divide ``LGFAConfig.width``).
        ffn_ratio: feed-forward expansion.
        kernel_source: language kernel from the ``"cls"`` slot or the masked ``"mean"``.
        fpn_refine: fuse the stride-4 level into V before the kernel product.
        mask_refine: refine the ⊗ logits to stride 4 with the stride-4 image level
            (:class:`~geocrobim.models.refine.MaskRefine`; not in the paper).
        refine_width: channels of the ``mask_refine`` convolutions.
        pixel_attention: after each V2L step, let the language-conditioned pixels attend
            to one another (:class:`~geocrobim.models.mid.PixelSelfAttention`; not in the
            paper), so an ordinal or a superlative can compare the instances of a category.
        attention_pool: keys and values of ``pixel_attention`` are average-pooled by this
            factor (1: none); queries keep V's resolution.
    """

    num_layers: int = 3
    heads: int = 8
    ffn_ratio: int = 4
    kernel_source: Literal["cls", "mean"] = "cls"
    fpn_refine: bool = False
    mask_refine: bool = False
    refine_width: int = 32
    pixel_attention: bool = False
    attention_pool: int = 2


@dataclass(frozen=True)
class CroBIMConfig:
    """The whole model.

    Attributes:
        image_size: side S of the square the model runs at (480 in the paper's lineage).
        num_classes: 2 (softmax, argmax; the lineage) or 1 (sigmoid).
        max_tokens: tokenizer length L, ``[CLS]``/``[SEP]`` included.
        image_encoder / text_encoder / capm / lgfa / mid: the boxes of the figure.
        align_corners: convention of the final bilinear upsampling of the logits to S.
            True is the lineage's (LAVT, RMSIN), which shifts an 8x-upsampled map by up
            to 3.5 px towards the far edges; False keeps cell centres where they are.
    """

    image_size: int = 480
    num_classes: Literal[1, 2] = 2
    max_tokens: int = 20
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    capm: CAPMConfig = field(default_factory=CAPMConfig)
    lgfa: LGFAConfig = field(default_factory=LGFAConfig)
    mid: MIDConfig = field(default_factory=MIDConfig)
    align_corners: bool = True

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able nested dict (tuples become lists)."""
        return _to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CroBIMConfig:
        """Inverse of :meth:`to_dict`; unknown keys or wrong types raise CheckpointError."""
        return _from_dict(cls, data, "config")

    def replace(self, **overrides: Any) -> CroBIMConfig:
        """A copy with overrides applied: top-level fields, nested dicts or dotted keys.

        ``cfg.replace(image_size=256, **{"text_encoder.layers": 2}, lgfa={"width": 64})``
        """
        data = self.to_dict()
        for key, value in overrides.items():
            _set_path(data, key.split("."), value, key)
        try:
            return CroBIMConfig.from_dict(data)
        except CheckpointError as exc:  # a bad override is the caller's usage error, not a bad file
            cause = exc.__cause__
            if isinstance(cause, UsageError):
                raise cause from None
            raise UsageError(f"bad model config override: {exc}") from None


def validate(cfg: CroBIMConfig) -> None:
    """Check cross-field constraints; raise UsageError naming the field and the fix."""
    te, capm, lgfa, mid = cfg.text_encoder, cfg.capm, cfg.lgfa, cfg.mid
    problems = []
    if cfg.num_classes not in (1, 2):
        problems.append(f"num_classes={cfg.num_classes!r} must be 1 or 2")
    if cfg.image_size < 64 or cfg.image_size % 32:
        problems.append(f"image_size={cfg.image_size} must be a multiple of 32, at least 64")
    if cfg.max_tokens < 2:
        problems.append(f"max_tokens={cfg.max_tokens} must be >= 2 ([CLS] and [SEP])")
    if cfg.max_tokens + capm.num_prompts > te.max_position:
        problems.append(
            f"max_tokens + capm.num_prompts = {cfg.max_tokens + capm.num_prompts} exceeds "
            f"text_encoder.max_position={te.max_position}; lower max_tokens or raise max_position"
        )
    if te.hidden % te.heads:
        problems.append(f"text_encoder.hidden={te.hidden} is not divisible by text_encoder.heads={te.heads}")
    if lgfa.width % mid.heads:
        problems.append(f"lgfa.width={lgfa.width} is not divisible by mid.heads={mid.heads}")
    if lgfa.width % 4:
        problems.append(f"lgfa.width={lgfa.width} must be a multiple of 4 (2-D sine positional encoding)")
    if capm.num_prompts < 1 or capm.pool_size < 1:
        problems.append("capm.num_prompts and capm.pool_size must be >= 1")
    if capm.text_passes not in (1, 2):
        problems.append(f"capm.text_passes={capm.text_passes!r} must be 1 or 2")
    if lgfa.fusion_stride not in (4, 8):
        problems.append(f"lgfa.fusion_stride={lgfa.fusion_stride!r} must be 4 or 8")
    if lgfa.deficit_mode not in ("complement", "no_word_token"):
        problems.append(f"lgfa.deficit_mode={lgfa.deficit_mode!r} must be 'complement' or 'no_word_token'")
    if mid.kernel_source not in ("cls", "mean"):
        problems.append(f"mid.kernel_source={mid.kernel_source!r} must be 'cls' or 'mean'")
    if mid.fpn_refine and mid.mask_refine:
        problems.append("mid.fpn_refine and mid.mask_refine both bring in the stride-4 level; choose one")
    if mid.refine_width < 8 or mid.refine_width % 8:
        problems.append(f"mid.refine_width={mid.refine_width} must be a positive multiple of 8")
    if mid.attention_pool < 1:
        problems.append(f"mid.attention_pool={mid.attention_pool} must be 1 (no pooling) or more")
    if mid.num_layers < 1:
        problems.append(f"mid.num_layers={mid.num_layers} must be >= 1")
    if cfg.image_encoder.family not in ("swin", "convnext", "efficientnet"):
        problems.append(
            f"image_encoder.family={cfg.image_encoder.family!r} must be 'swin', 'convnext' or 'efficientnet'"
        )
    if problems:
        raise UsageError("invalid CroBIM config: " + "; ".join(problems))


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _set_path(data: dict[str, Any], path: list[str], value: Any, full_key: str) -> None:
    """Set ``data[path...] = value``, merging dict values into nested sections."""
    head, rest = path[0], path[1:]
    if head not in data:
        raise UsageError(f"unknown model config key {full_key!r}; known here: {', '.join(sorted(data))}")
    if rest:
        if not isinstance(data[head], dict):
            raise UsageError(f"model config key {full_key!r}: {head!r} is not a section")
        _set_path(data[head], rest, value, full_key)
    elif isinstance(data[head], dict):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = _to_plain(dataclasses.asdict(value))
        if not isinstance(value, dict):
            raise UsageError(f"model config section {full_key!r} needs a dict, got {value!r}")
        for key, sub in value.items():
            _set_path(data[head], [key], sub, f"{full_key}.{key}")
    else:
        data[head] = value


def _from_dict(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise CheckpointError(f"{where} must be a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]  # cls is a dataclass type; the callers check it
    unknown = sorted(set(data) - known)
    if unknown:
        raise CheckpointError(
            f"{where} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: {exc}") from exc


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """Turn a JSON value into the annotated type; raise CheckpointError when it does not fit."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_dict(hint, value, where)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except CheckpointError as exc:
                errors.append(str(exc))
        raise CheckpointError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is Literal:
        if value not in args or type(value) is not type(next(a for a in args if a == value)):
            raise CheckpointError(f"{where}={value!r} must be one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise CheckpointError(f"{where}={value!r} must be a list")
        return tuple(_coerce(args[0], v, where) for v in value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and (type(value) is hint):
        return value
    raise CheckpointError(f"{where}={value!r} must be of type {getattr(hint, '__name__', hint)}")
