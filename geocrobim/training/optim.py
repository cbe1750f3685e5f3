"""Optimiser parameter groups and the poly learning-rate schedule of the lineage.

LAVT/RMSIN/LGCE: AdamW, weight decay 0.01 except on Swin's norms, ``absolute_pos_embed``
and ``relative_position_bias_table``; the learning rate follows
``lr * (1 - it / total) ** 0.9`` stepped **per iteration**, as in the RMSIN/LAVT lineage.
geocrobim also exempts biases and every position table (BERT's
``position_embeddings`` included), the usual transformer practice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

#: Parameter-name fragments that never get weight decay (position and bias tables).
NO_DECAY_NAMES: tuple[str, ...] = (
    "absolute_pos_embed",
    "relative_position_bias_table",
    "pos_embed",
    "position_embeddings",
    "token_type_embeddings",
)

#: Module types whose parameters never get weight decay.
NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LocalResponseNorm,
)


def no_decay(name: str, param: nn.Parameter, module: nn.Module) -> bool:
    """True if a parameter belongs in the no-weight-decay group.

    Args:
        name: the parameter's local name in ``module`` (``"weight"``, ``"bias"``, ...).
        param: the parameter.
        module: the module that owns it directly.
    """
    if name.endswith("bias") or isinstance(module, NORM_TYPES):
        return True
    # Norm layers that are not nn.LayerNorm subclasses (e.g. RMSNorm, timm's LayerNorm2d variants).
    if "norm" in type(module).__name__.lower():
        return True
    return any(fragment in name for fragment in NO_DECAY_NAMES) or param.ndim == 0


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups: trainable parameters with and without weight decay.

    Frozen parameters (``requires_grad=False``, e.g. RMSIN's frozen BERT layers) are left out.

    Args:
        model: the model to optimise.
        weight_decay: decay of the first group.

    Returns:
        ``[{"params": [...], "weight_decay": wd, "names": [...]},
        {"params": [...], "weight_decay": 0.0, "names": [...]}]``; the ``names`` lists are
        for logging and tests (torch.optim keeps extra keys).
    """
    decay: dict[str, nn.Parameter] = {}
    exempt: dict[str, nn.Parameter] = {}
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        for local, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue  # frozen, or shared and already placed
            seen.add(id(param))
            full = f"{module_name}.{local}" if module_name else local
            (exempt if no_decay(full, param, module) else decay)[full] = param
    return [
        {"params": list(decay.values()), "weight_decay": weight_decay, "names": list(decay)},
        {"params": list(exempt.values()), "weight_decay": 0.0, "names": list(exempt)},
    ]


def poly_lambda(total_steps: int, power: float = 0.9, warmup_steps: int = 0) -> Callable[[int], float]:
    """Multiplier of the base LR at optimiser step ``it`` for ``torch.optim.lr_scheduler.LambdaLR``.

    ``(1 - it / total) ** power`` (clamped at 0 past the end), with an optional linear
    warm-up from ``1 / warmup_steps`` over the first ``warmup_steps`` steps.

    Args:
        total_steps: number of optimiser steps of the whole run (>= 1).
        power: poly exponent (0.9 in the lineage).
        warmup_steps: linear warm-up length; 0 (the lineage) disables it.
    """
    total = max(int(total_steps), 1)

    def factor(it: int) -> float:
        poly = max(0.0, 1.0 - it / total) ** power
        if warmup_steps > 0 and it < warmup_steps:
            return poly * (it + 1) / warmup_steps
        return poly

    return factor

