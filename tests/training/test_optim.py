"""No-decay parameter groups and the poly schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from geocrobim.training.optim import param_groups, poly_lambda


class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.bn = nn.BatchNorm2d(4)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(9, 2))
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)
        self.embeddings = nn.Module()
        self.embeddings.position_embeddings = nn.Embedding(8, 4)
        self.embeddings.word_embeddings = nn.Embedding(8, 4)


def test_param_groups_split_decay_and_skip_frozen() -> None:
    decay, exempt = param_groups(_Toy(), weight_decay=0.01)
    assert decay["weight_decay"] == 0.01 and exempt["weight_decay"] == 0.0
    assert sorted(decay["names"]) == ["embeddings.word_embeddings.weight", "proj.weight"]
    assert sorted(exempt["names"]) == [
        "bn.bias",
        "bn.weight",
        "embeddings.position_embeddings.weight",
        "norm.bias",
        "norm.weight",
        "proj.bias",
        "relative_position_bias_table",
    ]
    assert not any(n.startswith("frozen") for n in decay["names"] + exempt["names"])
    torch.optim.AdamW([decay, exempt], lr=1e-3)  # the extra "names" key is accepted


def test_poly_schedule_values() -> None:
    f = poly_lambda(total_steps=100, power=0.9)
    assert f(0) == 1.0
    assert f(50) == pytest.approx(0.5**0.9)
    assert f(90) == pytest.approx(0.1**0.9)
    assert f(100) == 0.0 and f(150) == 0.0


def test_poly_schedule_stepped_per_iteration_through_lambdalr() -> None:
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=3e-5)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(10))
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([3e-5 * (1 - i / 10) ** 0.9 for i in range(10)])


def test_warmup_is_linear_then_poly() -> None:
    f = poly_lambda(total_steps=100, warmup_steps=4)
    assert [round(f(i) / (1 - i / 100) ** 0.9, 6) for i in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
