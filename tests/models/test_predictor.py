"""Predictor: the engine's contract (uint8 in, probabilities out, encoder once per window)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from geocrobim.errors import UsageError
from geocrobim.models import Predictor
from geocrobim.models.predictor import IMAGENET_MEAN, IMAGENET_STD, resolve_device, resolve_precision
from geocrobim.models.testing import make_test_checkpoint


@pytest.fixture()
def predictor(checkpoint_dir: Path) -> Predictor:
    return Predictor.from_checkpoint(checkpoint_dir, device="cpu")


def _windows(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, h, w), dtype=np.uint8)


def test_contract_attributes(predictor: Predictor) -> None:
    assert predictor.tile_size == 64
    assert predictor.gsd == 0.5
    assert predictor.model_id == "crobim_test-test-seed0"
    assert predictor.device == torch.device("cpu") and predictor.precision == "fp32"


@pytest.mark.parametrize("size", [(64, 64), (75, 51)])
def test_predict_shape_dtype_range(predictor: Predictor, expressions: list[str], size: tuple[int, int]) -> None:
    text = predictor.encode_text(expressions)
    probs = predictor.predict(_windows(2, *size), text)
    assert probs.shape == (2, len(expressions), *size)
    assert probs.dtype == np.float32
    assert np.isfinite(probs).all() and probs.min() >= 0.0 and probs.max() <= 1.0
    assert probs.std() > 0  # not a constant map


def test_probabilities_match_the_model_softmax(predictor: Predictor, expressions: list[str]) -> None:
    images = _windows(2, 64, 64, seed=4)
    probs = predictor.predict(images, predictor.encode_text(expressions[:2]))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    normalised = (torch.from_numpy(images).float() / 255.0 - mean) / std
    ids, mask = predictor.tokenizer(expressions[:2], predictor.model.config.max_tokens)
    with torch.no_grad():
        for b in range(2):
            for e in range(2):
                logits = predictor.model(normalised[b : b + 1], ids[e : e + 1], mask[e : e + 1])
                expected = logits.softmax(1)[0, 1].numpy()
                np.testing.assert_allclose(probs[b, e], expected, atol=1e-5)


def test_one_class_checkpoint_uses_sigmoid(tmp_path: Path, expressions: list[str]) -> None:
    ck = make_test_checkpoint(tmp_path / "one", num_classes=1)
    predictor = Predictor.from_checkpoint(ck, device="cpu")
    images = _windows(1, 64, 64)
    probs = predictor.predict(images, predictor.encode_text(expressions[:1]))
    logits = predictor.predict_logits(images, predictor.encode_text(expressions[:1]))
    np.testing.assert_allclose(probs, torch.sigmoid(logits).numpy(), atol=1e-6)
    assert predictor.num_classes == 1 and predictor.gsd is None


def test_encoder_runs_once_per_window(predictor: Predictor, expressions: list[str]) -> None:
    calls: list[int] = []
    handle = predictor.model.image_encoder.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    text_calls: list[int] = []
    text_handle = predictor.model.text_encoder.register_forward_hook(lambda m, i, o: text_calls.append(1))
    try:
        text = predictor.encode_text(expressions)
        assert len(text_calls) == 1  # one prompt-free pass for all expressions
        predictor.predict(_windows(4, 64, 64), text)
        predictor.predict(_windows(2, 64, 64), text)
    finally:
        handle.remove()
        text_handle.remove()
    assert calls == [4, 2]
    assert len(text_calls) == 1  # cached: predict never reruns the prompt-free pass


def test_max_pairs_chunks_give_the_same_result(checkpoint_dir: Path, expressions: list[str]) -> None:
    whole = Predictor.from_checkpoint(checkpoint_dir, device="cpu")
    chunked = Predictor.from_checkpoint(checkpoint_dir, device="cpu", max_pairs=2)
    images = _windows(3, 64, 64)
    a = whole.predict(images, whole.encode_text(expressions))
    b = chunked.predict(images, chunked.encode_text(expressions))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_bad_inputs_are_usage_errors(predictor: Predictor, expressions: list[str]) -> None:
    text = predictor.encode_text(expressions[:1])
    with pytest.raises(UsageError, match="uint8"):
        predictor.predict(_windows(1, 64, 64).astype(np.float32), text)
    with pytest.raises(UsageError, match=r"\(B, 3, H, W\)"):
        predictor.predict(_windows(1, 64, 64)[:, :2], text)
    with pytest.raises(UsageError, match="empty expression"):
        predictor.encode_text(["  "])


def test_device_and_precision_resolution() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    with pytest.raises(UsageError, match="precision"):
        resolve_precision("fp8", torch.device("cpu"))
    with pytest.raises(UsageError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_bf16_on_cpu_stays_close(checkpoint_dir: Path, expressions: list[str]) -> None:
    fp32 = Predictor.from_checkpoint(checkpoint_dir, device="cpu", precision="fp32")
    bf16 = Predictor.from_checkpoint(checkpoint_dir, device="cpu", precision="bf16")
    images = _windows(1, 64, 64)
    a = fp32.predict(images, fp32.encode_text(expressions[:1]))
    b = bf16.predict(images, bf16.encode_text(expressions[:1]))
    assert b.dtype == np.float32 and np.abs(a - b).max() < 0.1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bf16_matches_cpu(checkpoint_dir: Path, expressions: list[str]) -> None:
    cpu = Predictor.from_checkpoint(checkpoint_dir, device="cpu")
    gpu = Predictor.from_checkpoint(checkpoint_dir, device="cuda")
    assert gpu.precision == "bf16"
    images = _windows(3, 80, 80)
    a = cpu.predict(images, cpu.encode_text(expressions))
    b = gpu.predict(images, gpu.encode_text(expressions))
    assert b.dtype == np.float32 and b.shape == a.shape
    assert np.abs(a - b).max() < 0.1
