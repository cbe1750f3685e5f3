"""Checkpoint directories: safetensors weights + JSON config + tokenizer files, never a pickle.

Layout::

    <dir>/config.json          CroBIMConfig.to_dict()
    <dir>/model.safetensors    state_dict (float32, or float16 to halve the size)
    <dir>/tokenizer/           tokenizer.json, tokenizer_config.json, vocab.txt
    <dir>/metadata.json        free-form: gsd_m, trained_on, metrics, model_id, ...

:func:`load_checkpoint` refuses any pickle-bearing file before reading anything, builds
the model from ``config.json`` without fetching pretrained weights, and loads the
weights strictly: a missing, unexpected or differently shaped key is an error naming it.

Importing this module loads no torch (the model stack is imported by the functions that
need it): :func:`read_checkpoint_info` checks a checkpoint and reads its config and
metadata in milliseconds, so a run can validate its options against the model before
:func:`load_checkpoint` spends seconds building it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geocrobim.atomic import replacing
from geocrobim.errors import CheckpointError, InputNotFoundError
from geocrobim.models.config import CroBIMConfig
from geocrobim.models.safety import refuse_pickle
from geocrobim.weights import DEFAULT_CHECKPOINT_DIR  # module global: tests point it elsewhere

if TYPE_CHECKING:
    import torch

    from geocrobim.models.crobim import CroBIM
    from geocrobim.models.text_encoder import TextTokenizer

logger = logging.getLogger(__name__)


CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"
METADATA_FILE = "metadata.json"


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        model: CroBIM in eval mode on the CPU.
        tokenizer: its TextTokenizer.
        config: the model config.
        metadata: metadata.json content ({} if absent).
        path: the directory it came from.
    """

    model: CroBIM
    tokenizer: TextTokenizer
    config: CroBIMConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def save_checkpoint(
    model: CroBIM,
    tokenizer: TextTokenizer,
    path: str | Path,
    metadata: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write a checkpoint directory (atomically: a temp dir renamed into place).

    Args:
        model: the model; its ``config`` is saved.
        tokenizer: must fit the text encoder's vocabulary.
        path: target directory (replaced if it exists).
        metadata: JSON-able facts (gsd_m, trained_on, metrics, model_id, ...).
        dtype: e.g. ``torch.float16`` to store floating weights at half size; None keeps them.

    Returns:
        The directory.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if tokenizer.vocab_size > model.config.text_encoder.vocab_size:
        raise CheckpointError(
            f"tokenizer has {tokenizer.vocab_size} tokens but text_encoder.vocab_size is "
            f"{model.config.text_encoder.vocab_size}; build the model with a vocab_size that covers it"
        )
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        state[key] = value.contiguous().clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        tmp.mkdir()
        (tmp / CONFIG_FILE).write_text(json.dumps(model.config.to_dict(), indent=2) + "\n", encoding="utf-8")
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})  # one key: byte-reproducible
        tokenizer.save(tmp / TOKENIZER_DIR)
        (tmp / METADATA_FILE).write_text(json.dumps(metadata or {}, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def resolve_checkpoint(path_or_name: str | Path) -> Path:
    """Turn ``"default"`` or a path (directory, or a file inside one) into a checkpoint directory."""
    if str(path_or_name) == "default":
        if not (DEFAULT_CHECKPOINT_DIR / WEIGHTS_FILE).is_file():
            raise CheckpointError(
                f"no default model is shipped in this install ({DEFAULT_CHECKPOINT_DIR} is missing); "
                "pass --checkpoint PATH to a checkpoint directory"
            )
        return DEFAULT_CHECKPOINT_DIR
    path = Path(path_or_name).expanduser()
    if not path.exists():
        raise InputNotFoundError(
            f"checkpoint {str(path_or_name)!r} not found; pass a checkpoint directory (config.json, "
            "model.safetensors, tokenizer/) or 'default'"
        )
    if path.is_file():
        refuse_pickle(path)
        if path.name in (WEIGHTS_FILE, CONFIG_FILE, METADATA_FILE):
            return path.parent
        raise CheckpointError(f"{str(path)!r} is a file; pass the checkpoint directory that holds config.json")
    return path


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint directory says about itself, read without building the model.

    Attributes:
        path: the checkpoint directory.
        config: the model config (``config.json``).
        metadata: ``metadata.json`` content ({} if absent).
    """

    path: Path
    config: CroBIMConfig
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def tile_size(self) -> int:
        """The model's input side in pixels (``Predictor.tile_size``)."""
        return self.config.image_size

    @property
    def gsd(self) -> float | None:
        """The GSD in metres the model was trained at (``Predictor.gsd``), or None."""
        value = self.metadata.get("gsd_m")
        return None if value is None else float(value)


def read_checkpoint_info(path_or_name: str | Path = "default") -> CheckpointInfo:
    """Check a checkpoint directory and read its config and metadata; no torch, no weights read.

    Raises:
        CheckpointError: pickle-bearing file, missing or corrupt file.
        InputNotFoundError: the path does not exist.
    """
    path = resolve_checkpoint(path_or_name)
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        refuse_pickle(file)
    for required in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_DIR):
        if not (path / required).exists():
            raise CheckpointError(f"checkpoint {str(path)!r} lacks {required}; it is not a geocrobim checkpoint")
    config = CroBIMConfig.from_dict(_read_json(path / CONFIG_FILE))
    metadata = _read_json(path / METADATA_FILE) if (path / METADATA_FILE).is_file() else {}
    return CheckpointInfo(path, config, metadata)


def load_checkpoint(path_or_name: str | Path = "default") -> Checkpoint:
    """Load a checkpoint directory (or ``"default"``) without unpickling anything.

    Raises:
        CheckpointError: pickle-bearing file, missing/corrupt file, or weights that do
            not match the config (the message names the keys).
        InputNotFoundError: the path does not exist.
    """
    from geocrobim.models.crobim import CroBIM
    from geocrobim.models.text_encoder import TextTokenizer

    info = read_checkpoint_info(path_or_name)
    path, config = info.path, info.config
    tokenizer = TextTokenizer.from_dir(path / TOKENIZER_DIR)
    if tokenizer.vocab_size > config.text_encoder.vocab_size:
        raise CheckpointError(
            f"tokenizer in {str(path)!r} has {tokenizer.vocab_size} tokens, more than text_encoder.vocab_size "
            f"{config.text_encoder.vocab_size}; the tokenizer does not belong to these weights"
        )
    model = CroBIM(config, load_pretrained=False)
    load_weights(model, path / WEIGHTS_FILE)
    model.eval()
    return Checkpoint(model=model, tokenizer=tokenizer, config=config, metadata=info.metadata, path=path)


def load_weights(model: torch.nn.Module, file: Path) -> None:
    """Strictly load a safetensors state dict; mismatches are a CheckpointError naming keys."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    refuse_pickle(file)
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{str(file)!r} is not a readable safetensors file ({exc}); re-save it") from exc
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if state[k].shape != expected[k].shape
    )
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape-mismatched", shapes)):
            if keys:
                more = f" (+{len(keys) - 8} more)" if len(keys) > 8 else ""
                parts.append(f"{label} keys: {', '.join(keys[:8])}{more}")
        raise CheckpointError(f"weights {str(file)!r} do not match the config: {'; '.join(parts)}")
    with torch.no_grad():
        for key, target in expected.items():
            target.copy_(state[key].to(target.dtype))


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(file)!r} is not valid JSON ({exc}); the checkpoint is corrupt") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{str(file)!r} must hold a JSON object")
    return data
