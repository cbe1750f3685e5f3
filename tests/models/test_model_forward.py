"""CroBIM forward/backward: shapes at odd sizes, gradients everywhere, determinism, batching."""

from __future__ import annotations

import time

import pytest
import torch

from geocrobim.models import CroBIM, TextTokenizer
from geocrobim.models.head import foreground_logit
from geocrobim.models.testing import make_test_model


def _batch(tokenizer: TextTokenizer, model: CroBIM, texts: list[str], size: tuple[int, int], seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(len(texts), 3, *size, generator=generator)
    ids, mask = tokenizer(texts, model.config.max_tokens)
    return images, ids, mask


@pytest.mark.parametrize("size", [(64, 64), (63, 97), (128, 40), (17, 33)])
@pytest.mark.parametrize("num_classes", [1, 2])
def test_forward_shape_at_any_input_size(
    tokenizer: TextTokenizer, expressions: list[str], size: tuple[int, int], num_classes: int
) -> None:
    model = make_test_model(vocab_size=tokenizer.vocab_size, num_classes=num_classes)
    images, ids, mask = _batch(tokenizer, model, expressions[:2], size)
    with torch.no_grad():
        logits = model(images, ids, mask)
    assert logits.shape == (2, num_classes, *size)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("num_classes", [1, 2])
def test_every_trainable_parameter_gets_a_gradient(
    tokenizer: TextTokenizer, expressions: list[str], num_classes: int
) -> None:
    model = make_test_model(vocab_size=tokenizer.vocab_size, num_classes=num_classes)
    # One vocab row per token actually used gets a gradient; the others legitimately stay 0,
    # so compare the used rows only and exclude the table from the all-zero check.
    _all_parameters_get_gradients_except_embeddings(model, tokenizer, expressions[:2])


def _all_parameters_get_gradients_except_embeddings(model: CroBIM, tokenizer: TextTokenizer, texts: list[str]) -> None:
    model.train()
    with torch.no_grad():
        if model.lgfa.gamma is not None:
            model.lgfa.gamma.fill_(0.5)
        if model.mid.mask_refine is not None:  # zero-initialised output layer: nothing behind it learns yet
            model.mid.mask_refine.out.weight.fill_(0.1)
    images, ids, mask = _batch(tokenizer, model, texts, (64, 64))
    logits = model(images, ids, mask)
    target = torch.zeros_like(logits)
    target[..., 16:40, 20:48] = 1
    torch.nn.functional.binary_cross_entropy_with_logits(logits, target).backward()
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient: {missing}"
    zero = [n for n, p in params.items() if p.requires_grad and not p.grad.any() and "word_embeddings" not in n]
    assert not zero, f"all-zero gradient: {zero}"
    word_grad = params["text_encoder.bert.embeddings.word_embeddings.weight"].grad
    used = torch.unique(ids[mask == 1])  # [PAD] is BERT's padding_idx: no gradient by design
    assert (word_grad[used].abs().sum(-1) > 0).all()


@pytest.mark.parametrize(
    "overrides",
    [
        {"lgfa.deficit_mode": "no_word_token", "mid.kernel_source": "mean"},
        {"mid.fpn_refine": True, "capm.prompt_self_attn": True, "capm.pool_size": 2},
        {"capm.text_passes": 1, "lgfa.fusion_stride": 4},
        {"mid.mask_refine": True, "mid.refine_width": 8, "align_corners": False},
    ],
)
def test_config_variants_train(tokenizer: TextTokenizer, expressions: list[str], overrides: dict) -> None:
    model = make_test_model(vocab_size=tokenizer.vocab_size, **overrides)
    _all_parameters_get_gradients_except_embeddings(model, tokenizer, expressions[:2])


def test_swin_family_builds_and_trains(tokenizer: TextTokenizer, expressions: list[str]) -> None:
    model = make_test_model(
        vocab_size=tokenizer.vocab_size,
        image_encoder={
            "family": "swin",
            "name": "swin_tiny_patch4_window7_224",
            "widths": [16],
            "depths": [1, 1, 1, 1],
            "heads": [1, 1, 2, 2],
            "window_size": 4,
        },
    )
    assert model.image_encoder.channels == (16, 32, 64, 128)
    _all_parameters_get_gradients_except_embeddings(model, tokenizer, expressions[:2])


def test_eval_forward_is_deterministic(model: CroBIM, tokenizer: TextTokenizer, expressions: list[str]) -> None:
    images, ids, mask = _batch(tokenizer, model, expressions, (63, 97))
    with torch.no_grad():
        first = model(images, ids, mask)
        second = model(images, ids, mask)
    assert torch.equal(first, second)


def test_padding_does_not_leak_into_the_result(model: CroBIM, tokenizer: TextTokenizer) -> None:
    images, ids, mask = _batch(tokenizer, model, ["a small ship"], (64, 64))
    with torch.no_grad():
        base = model(images, ids, mask)
        ids2 = ids.clone()
        ids2[mask == 0] = 7  # garbage in padded slots must be ignored
        other = model(images, ids2, mask)
    assert torch.allclose(base, other, atol=1e-5)


def test_different_expressions_give_different_masks(model: CroBIM, tokenizer: TextTokenizer, expressions: list[str]) -> None:
    images, ids, mask = _batch(tokenizer, model, expressions[:2], (64, 64))
    images[1] = images[0]
    with torch.no_grad():
        logits = model(images, ids, mask)
    assert not torch.allclose(logits[0], logits[1])


def test_forward_many_equals_looping_single_forwards(
    model: CroBIM, tokenizer: TextTokenizer, expressions: list[str]
) -> None:
    images = torch.randn(3, 3, 70, 50, generator=torch.Generator().manual_seed(1))
    ids, mask = tokenizer(expressions, model.config.max_tokens)
    calls = []
    handle = model.image_encoder.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    try:
        with torch.no_grad():
            text = model.encode_text(ids, mask)
            many = model.forward_many(images, text)
            chunked = model.forward_many(images, text, max_pairs=4)
    finally:
        handle.remove()
    assert calls == [3, 3]  # one encoder call per forward_many, each over the 3 windows
    assert many.shape == (3, len(expressions), 70, 50)
    assert torch.allclose(many, chunked, atol=1e-5)
    with torch.no_grad():
        for b in range(3):
            for e in range(len(expressions)):
                single = model(images[b : b + 1], ids[e : e + 1], mask[e : e + 1])
                assert torch.allclose(many[b, e], foreground_logit(single)[0], atol=1e-4)


def test_forward_plus_backward_is_fast(model: CroBIM, tokenizer: TextTokenizer, expressions: list[str]) -> None:
    """crobim_test fwd+bwd on a 2 x 64 x 64 batch stays well under a second of CPU.

    Measured as this thread's CPU time with one intra-op thread, so other processes
    sharing the cores do not make the test flaky.
    """
    model.train()
    images, ids, mask = _batch(tokenizer, model, expressions[:2], (64, 64))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        best = float("inf")
        for _ in range(3):
            start = time.thread_time()
            model(images, ids, mask).sum().backward()
            best = min(best, time.thread_time() - start)
    finally:
        torch.set_num_threads(threads)
    assert best < 1.0, best
