"""Which device a run asks for, and whether this machine has it: checked before any model work.

:func:`check_device` refuses a device the machine cannot provide in milliseconds where it
can: a CUDA device asked of a CPU build of torch is known from ``torch/version.py``
(read as text, without importing torch), so ``--device cuda`` on a CPU machine fails
before the model or even torch loads. Otherwise it imports torch and asks it
(:func:`resolve_device`), which is still far cheaper than building the model.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from geocrobim.choices import is_device
from geocrobim.errors import UsageError

if TYPE_CHECKING:
    import torch


def check_device(device: str) -> None:
    """Refuse a device name this machine cannot provide; import torch only when it must.

    Raises:
        UsageError: an unknown device name, or a CUDA device where CUDA is not available
            (one line naming the device and ``--device cpu``).
    """
    if not isinstance(device, str) or not is_device(device):
        raise UsageError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    if device in ("auto", "cpu"):
        return
    if torch_gpu_build() is False:
        raise UsageError(_no_cuda(device))
    resolve_device(device)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> cuda if available else cpu; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` are checked."""
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UsageError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(_no_cuda(str(device)))
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise UsageError(f"device {device!r} does not exist ({torch.cuda.device_count()} CUDA device(s))")
    elif resolved.type != "cpu":
        raise UsageError(f"unsupported device {device!r}; use auto, cpu, cuda or cuda:N")
    return resolved


def torch_gpu_build() -> bool | None:
    """Whether the installed torch was built for CUDA or ROCm; None when that cannot be told.

    An imported torch is asked; otherwise ``torch/version.py`` is parsed (never executed),
    whose ``cuda`` and ``hip`` are None in a CPU build.
    """
    loaded = sys.modules.get("torch")
    if loaded is not None:
        version = getattr(loaded, "version", None)
        return bool(getattr(version, "cuda", None) or getattr(version, "hip", None))
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        try:
            values = _constants(Path(folder) / "version.py")
        except (OSError, SyntaxError, ValueError):
            continue
        if "cuda" in values and "hip" in values:
            return bool(values["cuda"] or values["hip"])
    return None


def _constants(file: Path) -> dict[str, object]:
    """Module-level ``name = <literal>`` assignments of a Python file (annotated or not)."""
    values: dict[str, object] = {}
    for node in ast.parse(file.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            values[target.id] = value.value
    return values


def _no_cuda(device: str) -> str:
    return f"device {device!r} requested but CUDA is not available; use --device cpu"
