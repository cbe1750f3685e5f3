"""Fingerprints that decide whether a finished item can be skipped on ``--resume``.

An item is skipped only if its input, the model and the options are those of a
completed ledger record (and its outputs still exist):

- **input**: a content hash. ``quick`` (default) is SHA-256 over the file size, its
  first MiB and its last MiB: constant time per scene whatever its size, and it changes
  whenever a GeoTIFF is rewritten (header, IFDs and tile offsets sit at the start or the
  end of the file). ``full`` hashes every byte, for archives edited in place. The
  modification time is recorded but not hashed, so copying an archive (``cp``, ``rsync``
  without ``-t``) keeps its results valid; a record whose size and mtime still match is
  trusted without reading the file again (rsync's rule).
- **model**: the checkpoint's ``model_id`` and a hash over its files (quick hashes),
  so retrained weights saved under the same name are noticed.
- **options**: SHA-256 of the canonical JSON of the item's expressions and every
  engine option that changes the outputs (not ``batch_size`` or reader threads).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geocrobim.errors import CheckpointError, InputNotFoundError, UsageError
from geocrobim.weights import DEFAULT_CHECKPOINT_DIR

HASH_MODES = ("quick", "full")
#: Bytes read at each end of a file by the quick hash.
QUICK_BYTES = 1 << 20
_CHUNK = 4 << 20


def file_fingerprint(path: str | os.PathLike[str], mode: str = "quick") -> dict[str, Any]:
    """Size, modification time and content hash of a file.

    Returns:
        ``{"input_hash": "quick:<sha256 hex>" | "full:<hex>", "input_size": bytes,
        "input_mtime_ns": int}``.

    Raises:
        UsageError: unknown mode.
        OSError: the file cannot be read.
    """
    if mode not in HASH_MODES:
        raise UsageError(f"--hash {mode!r} is not one of {', '.join(HASH_MODES)}")
    stat = os.stat(path)
    digest = hashlib.sha256(stat.st_size.to_bytes(8, "little"))
    with open(path, "rb") as f:
        if mode == "full" or stat.st_size <= 2 * QUICK_BYTES:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        else:
            digest.update(f.read(QUICK_BYTES))
            f.seek(-QUICK_BYTES, os.SEEK_END)
            digest.update(f.read(QUICK_BYTES))
    return {
        "input_hash": f"{mode}:{digest.hexdigest()}", "input_size": stat.st_size, "input_mtime_ns": stat.st_mtime_ns
    }


def same_input(path: Path, record: dict[str, Any]) -> bool:
    """Whether ``path`` still holds the input a ledger record was made from."""
    recorded = record.get("input_hash")
    if not recorded:
        return False
    try:
        stat = os.stat(path)
    except OSError:
        return False
    if stat.st_size == record.get("input_size") and stat.st_mtime_ns == record.get("input_mtime_ns"):
        return True
    try:
        return file_fingerprint(path, recorded.split(":", 1)[0])["input_hash"] == recorded
    except OSError:
        return False


def checkpoint_dir(checkpoint: str | os.PathLike[str]) -> Path:
    """The checkpoint directory behind a name or path, checked without loading the model.

    Raises:
        InputNotFoundError, CheckpointError: nothing usable there.
    """
    if str(checkpoint) == "default":
        path = DEFAULT_CHECKPOINT_DIR
    else:
        path = Path(checkpoint).expanduser()
        if path.is_file():
            path = path.parent
    if not path.exists():
        raise InputNotFoundError(
            f"checkpoint {str(checkpoint)!r} not found; pass --checkpoint PATH to a checkpoint directory"
        )
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} ({path}) lacks config.json or model.safetensors; "
            "pass --checkpoint PATH to a geocrobim checkpoint directory"
        )
    return path.resolve()


def model_fingerprint(checkpoint: str | os.PathLike[str]) -> tuple[str, str]:
    """``(model_id, model_hash)`` of a checkpoint, as the engine's Predictor names it.

    Raises:
        InputNotFoundError, CheckpointError: see :func:`checkpoint_dir`.
    """
    path = checkpoint_dir(checkpoint)
    metadata: dict[str, Any] = {}
    if (path / "metadata.json").is_file():
        try:
            metadata = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"checkpoint {path}: metadata.json is unreadable ({exc})") from exc
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file_fingerprint(file)["input_hash"].encode())
    return str(metadata.get("model_id", path.name)), digest.hexdigest()


def options_hash(expressions: Sequence[str], options: dict[str, Any]) -> str:
    """SHA-256 of the item's expressions and the output-changing engine options."""
    canonical = json.dumps({"expressions": list(expressions), "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
