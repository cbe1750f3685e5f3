"""Refuse pickle-bearing weight files before anything could unpickle them.

``torch.load`` (and every loader built on it) executes code hidden in a pickle. geocrobim
only loads safetensors; any file that is or might be a pickle is refused with a message
saying how to convert it in a trusted environment.
"""

from __future__ import annotations

from pathlib import Path

from geocrobim.errors import CheckpointError

#: Suffixes of weight files; only ``.safetensors`` is ever loaded.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")

CONVERT_HINT = (
    "convert it to safetensors with "
    "`safetensors.torch.save_file(torch.load(PATH, weights_only=True), 'model.safetensors')` "
    "in a trusted environment"
)


def looks_like_pickle(head: bytes) -> bool:
    """True if the first bytes are a pickle stream or a zip archive (``torch.save`` format).

    Pickle protocol 2+ opens with ``0x80 <protocol>``; protocols 0/1 with ``(``/``]``/``}``
    followed by an opcode; ``torch.save`` since 1.6 writes a zip holding ``data.pkl``.
    """
    if head[:2] in {b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"}:
        return True
    if head.startswith(b"PK\x03\x04"):
        return True
    return head[:1] in {b"(", b"]", b"}"} and head[1:2] in {b"d", b"l", b"q", b"X", b"V", b"c", b"(", b"]", b"}"}


def refuse_pickle(path: Path) -> None:
    """Raise CheckpointError if ``path`` has a pickle suffix or pickle/zip magic bytes."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(f"{str(path)!r} carries a pickle (refused, never unpickled); {CONVERT_HINT}")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if looks_like_pickle(head):
        raise CheckpointError(f"{str(path)!r} carries a pickle (refused, never unpickled); {CONVERT_HINT}")
