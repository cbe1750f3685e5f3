"""Devices for the workers: which GPUs this machine shows (without importing torch, so
the driver stays light), and how CPU threads wait."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping


def visible_gpus(env: Mapping[str, str] | None = None) -> list[str]:
    """Ids to put in ``CUDA_VISIBLE_DEVICES``, one per visible GPU.

    ``CUDA_VISIBLE_DEVICES`` when set (CUDA's rule: the list ends at the first invalid
    entry such as ``-1``), else one id per ``GPU n:`` line of ``nvidia-smi -L``, else none.
    """
    env = os.environ if env is None else env
    value = env.get("CUDA_VISIBLE_DEVICES")
    if value is not None:
        ids: list[str] = []
        for entry in (v.strip() for v in value.split(",")):
            if not entry or entry.startswith("-"):
                break
            ids.append(entry)
        return ids
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(n) for n, _ in enumerate(line for line in listing.splitlines() if line.startswith("GPU "))]


def wants_gpu(device: str) -> bool:
    """Whether a ``--device`` value lets workers be spread over GPUs (``auto``/``cuda``)."""
    return device in ("auto", "cuda")
