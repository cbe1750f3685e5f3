"""Checkpoints shipped inside the package.

Torch-free on purpose: the CLI and the batch driver locate the default checkpoint
without importing the model stack.
"""

from __future__ import annotations

from pathlib import Path

#: The checkpoint directory that ``--checkpoint default`` names.
DEFAULT_CHECKPOINT_DIR = Path(__file__).resolve().parent / "default"
