"""The flip ensemble: mirrored passes read rewritten sentences and agree with the plain pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from geocrobim.errors import UsageError
from geocrobim.models import FlipEnsemble, Predictor
from geocrobim.models.crobim import TextFeatures
from geocrobim.models.flips import FlipAxis, flip_ensemble, flip_expression


def _sided_run(calls: list[tuple[FlipAxis | None, list[str]]]) -> object:
    """A model that reads 'left'/'right' exactly: +4 on that half of an 8 x 8 frame, -4 elsewhere."""

    def run(axis: FlipAxis | None, texts: list[str]) -> torch.Tensor:
        calls.append((axis, texts))
        out = torch.full((1, len(texts), 8, 8), -4.0)
        for e, text in enumerate(texts):
            if " left" in text and "right next" not in text:
                out[0, e, :, :4] = 4.0
            elif " right" in text and "right next" not in text:
                out[0, e, :, 4:] = 4.0
            else:  # no side word: the model marks the top half, whatever the mirror
                out[0, e, :4, :] = 4.0
        return out

    return run


def test_mirrored_passes_read_the_rewritten_sentence_and_agree() -> None:
    calls: list[tuple[FlipAxis | None, list[str]]] = []
    texts = ["the pool on the left", "the ship right next to the bridge"]
    logits = flip_ensemble(_sided_run(calls), texts)  # type: ignore[arg-type]  # a stand-in model
    assert calls[1] == ("horizontal", ["the pool on the right", "the ship right next to the bridge"])
    assert calls[2][0] == "vertical" and calls[2][1][0] == "the pool on the left"
    assert calls[3] == ("both", ["the pool on the right", "the ship right next to the bridge"])
    assert logits.shape == (1, 2, 8, 8)
    # "left" read as "right" on the mirrored image lands, mirrored back, on the same left half.
    assert (logits[0, 0, :, :4] > 3.9).all() and (logits[0, 0, :, 4:] < -3.9).all()
    # "right next to" cannot be rewritten safely: the passes that mirror left-right (alone and
    # with top-bottom) count the plain answer, so only the vertical mirror (top half seen as the
    # bottom) disagrees: 3 of 4 votes.
    high, low = torch.sigmoid(torch.tensor(4.0)), torch.sigmoid(torch.tensor(-4.0))
    top = torch.sigmoid(logits[0, 1, :4])
    torch.testing.assert_close(top, torch.full_like(top, float(3 * high + low) / 4))


def test_no_flips_is_the_plain_pass() -> None:
    calls: list[tuple[FlipAxis | None, list[str]]] = []
    run = _sided_run(calls)
    logits = flip_ensemble(run, ["the pool on the left"], flips=())  # type: ignore[arg-type]
    assert len(calls) == 1
    torch.testing.assert_close(logits, run(None, ["the pool on the left"]), atol=1e-4, rtol=0)  # type: ignore[operator]


def test_flip_ensemble_predictor_averages_the_mirrored_windows(checkpoint_dir: Path, expressions: list[str]) -> None:
    plain = Predictor.from_checkpoint(checkpoint_dir, device="cpu")
    ensemble = FlipEnsemble(plain)
    assert ensemble.tile_size == plain.tile_size and ensemble.gsd == plain.gsd
    images = np.random.default_rng(3).integers(0, 256, (2, 3, 64, 64), dtype=np.uint8)
    text = ensemble.encode_text(expressions)
    probs = ensemble.predict(images, text)
    expected = plain.predict(images, text)
    for axis, dim in (("horizontal", -1), ("vertical", -2), ("both", (-2, -1))):
        rewritten = [flip_expression(e, axis) or e for e in expressions]  # type: ignore[arg-type]  # a FlipAxis literal
        mirrored = plain.predict(np.ascontiguousarray(np.flip(images, dim)), plain.encode_text(rewritten))
        expected = expected + np.flip(mirrored, dim)
    np.testing.assert_allclose(probs, expected / 4, atol=1e-5)
    assert not np.allclose(probs, plain.predict(images, text), atol=1e-3)  # the mirrors changed the answer
    with pytest.raises(UsageError, match="needs the sentences"):
        ensemble.predict(images, TextFeatures(text.input_ids, text.attention_mask, text.word_features))

