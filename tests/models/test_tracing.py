"""TracedForward: graphs for repeated shapes, identical outputs, eager fallback when unfaithful."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from geocrobim.models import Predictor
from geocrobim.models.crobim import TextFeatures
from geocrobim.models.tracing import MAX_GRAPHS, TracedForward


def _text() -> TextFeatures:
    return TextFeatures(torch.zeros(1, 4, dtype=torch.long), torch.ones(1, 4, dtype=torch.long))


def _windows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 64, 64), dtype=np.uint8)


def test_repeated_shapes_run_traced_with_the_eager_outputs(checkpoint_dir: Path, expressions: list[str]) -> None:
    traced = Predictor.from_checkpoint(checkpoint_dir, device="cpu")
    eager = Predictor.from_checkpoint(checkpoint_dir, device="cpu", trace=False)
    text, text_eager = traced.encode_text(expressions[:2]), eager.encode_text(expressions[:2])
    for seed in range(4):  # calls 1 and 2 eager (2 traces), 3 and 4 through the graph
        images = _windows(3, seed)
        np.testing.assert_allclose(traced.predict(images, text), eager.predict(images, text_eager), atol=1e-5)
    assert traced._forward.graphs == 1 and traced._forward.enabled
    assert eager._forward.graphs == 0
    # A shape seen once (a scene's last, shorter batch) is not worth a graph.
    np.testing.assert_allclose(traced.predict(_windows(2, 9), text), eager.predict(_windows(2, 9), text_eager), atol=1e-5)
    assert traced._forward.graphs == 1
    # Other expressions of the same form (count, tokens, padding) run through the same graph.
    # Other expressions of the same form (count, tokens, padding) run through the same
    # graph: the same words shuffled are tokenised to the same lengths.
    shuffled = [" ".join(reversed(e.split())) for e in expressions[:2]]
    other, other_eager = traced.encode_text(shuffled), eager.encode_text(shuffled)
    assert torch.equal(other.attention_mask, text.attention_mask)
    assert not torch.equal(other.input_ids, text.input_ids)
    np.testing.assert_allclose(traced.predict(_windows(3, 5), other), eager.predict(_windows(3, 5), other_eager), atol=1e-5)
    assert traced._forward.graphs == 1
    # Another number of expressions: another graph.
    one = traced.encode_text(expressions[2:3])
    for seed in range(3):
        traced.predict(_windows(3, seed), one)
    assert traced._forward.graphs == 2


def test_a_bf16_predictor_does_not_trace(checkpoint_dir: Path) -> None:
    predictor = Predictor.from_checkpoint(checkpoint_dir, device="cpu", precision="bf16")
    assert not predictor._forward.enabled


class _Counting(nn.Module):
    """A model whose output depends on Python state, which a trace freezes: unfaithful."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.calls = 0

    def forward_many(self, images: torch.Tensor, text: TextFeatures, max_pairs: int | None = None) -> torch.Tensor:
        self.calls += 1
        return images[:, :1] * self.scale * self.calls


class _Untraceable(nn.Module):
    def forward_many(self, images: torch.Tensor, text: TextFeatures, max_pairs: int | None = None) -> torch.Tensor:
        if images.shape[0] > 0 and torch.jit.is_tracing():
            raise RuntimeError("no tracing here")
        return images[:, :1] * 2


@pytest.mark.parametrize(("model", "why"), [(_Counting(), "differs"), (_Untraceable(), "tracing failed")])
def test_unfaithful_or_failing_traces_fall_back_to_eager_for_good(
    model: nn.Module, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    forward = TracedForward(model)  # type: ignore[arg-type]  # a stand-in model
    text = _text()
    images = torch.ones(2, 3, 4, 4)
    with torch.inference_mode(), caplog.at_level("INFO", logger="geocrobim.models.tracing"):
        outputs = [forward(images, text) for _ in range(4)]
    assert not forward.enabled and forward.graphs == 0
    assert why in caplog.text
    if isinstance(model, _Counting):
        # Every returned output is the eager one: 1, 2, then call 3's eager after the trace's runs.
        assert [float(o.flatten()[0]) for o in outputs[:2]] == [1.0, 2.0]
        assert float(outputs[3].flatten()[0]) == float(model.calls)
    else:
        assert all(torch.equal(o, images[:, :1] * 2) for o in outputs)


def test_the_graph_cache_is_bounded() -> None:
    forward = TracedForward(_Untraceable(), enabled=True)  # type: ignore[arg-type]  # a stand-in model that fails to trace
    forward._trace = lambda *args: None  # type: ignore[method-assign]  # count entries only
    with torch.inference_mode():
        for n in range(1, MAX_GRAPHS + 4):
            forward(torch.ones(n, 3, 4, 4), _text())
    assert len(forward._entries) == MAX_GRAPHS


def test_slow_forwards_are_not_traced(checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A large model's time is in its kernels: tracing would only cost its three forwards.
    monkeypatch.setattr("geocrobim.models.tracing.TRACE_BELOW_S", 0.0)
    predictor = Predictor.from_checkpoint(checkpoint_dir, device="cpu")
    text = predictor.encode_text(["a small ship"])
    for seed in range(4):
        predictor.predict(_windows(2, seed), text)
    assert predictor._forward.graphs == 0 and predictor._forward.enabled
