"""The built-in vocabulary covers the grammar; a frozen GloVe vocabulary grows at export."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from geocrobim.data.synthetic import phrases
from geocrobim.data.synthetic.objects import NOUNS
from geocrobim.errors import UsageError
from geocrobim.models import CroBIM, TextTokenizer, create_model
from geocrobim.models.flips import _SWAPS
from geocrobim.training.vocab import (
    builtin_tokenizer,
    builtin_words,
    extend_glove_vocabulary,
    glove_tokenizer,
    init_word_vectors,
)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            yield from _strings(item)


def grammar_words() -> set[str]:
    """Words of the phrase tables and nouns, plus what a flip rewrites them to."""
    tables = [getattr(phrases, name) for name in dir(phrases) if name.isupper()] + [NOUNS]
    words = {w for table in tables for text in _strings(table) for w in re.findall(r"[a-z]+", text.lower())}
    words -= {"x", "y"}  # SUPERLATIVE's axis keys, not words
    flipped = {swap[w] for swap in _SWAPS.values() for w in words if w in swap}
    return words | flipped


def test_grammar_words_are_in_the_builtin_vocabulary() -> None:
    missing = sorted(grammar_words() - set(builtin_words()))
    assert not missing, f"add {missing} to geocrobim.training.vocab.EXTRA_WORDS"
    assert {"lorry", "uppermost", "lowermost", "vessel"} <= grammar_words()


def test_builtin_tokenizer_reads_grammar_words_whole() -> None:
    tok = builtin_tokenizer()
    assert tok.unknown_words("the lowermost lorry beside the large vessel") == []
    assert tok.tokenizer.tokenize("the uppermost lorry") == ["the", "uppermost", "lorry"]


# -- growing a frozen GloVe vocabulary at export -------------------------------------------------


def _glove_model(
    monkeypatch: pytest.MonkeyPatch, trained_words: int
) -> tuple[CroBIM, TextTokenizer, list[str], np.ndarray]:
    """crobim_test with a frozen GloVe table over the first ``trained_words`` of a fake GloVe."""
    from geocrobim.models import pretrained

    words = builtin_words() + ["depot", "crimson", "lorry", "hangar", "silo", "jetty", "pylon", "taxiway"]
    words = list(dict.fromkeys(words))
    vectors = np.random.default_rng(0).normal(size=(len(words), 50)).astype(np.float32)
    monkeypatch.setattr(pretrained, "load_glove", lambda: (words, vectors))
    tokenizer = glove_tokenizer(count=trained_words)
    model = create_model("crobim_test", **{"text_encoder.hidden": 64, "text_encoder.vocab_size": tokenizer.vocab_size})
    init_word_vectors(model, tokenizer)
    return model.eval(), tokenizer, words, vectors


def test_extend_glove_vocabulary_appends_glove_rows_and_keeps_every_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    model, tokenizer, words, vectors = _glove_model(monkeypatch, trained_words=len(builtin_words()) - 10)
    assert tokenizer.unknown_words("the hangar next to the jetty") == ["hangar", "jetty"]
    grown, grown_tok, added = extend_glove_vocabulary(model, tokenizer, count=len(words))
    assert added == grown_tok.vocab_size - tokenizer.vocab_size >= 6
    assert grown.config.text_encoder.vocab_size == grown_tok.vocab_size
    assert grown_tok.unknown_words("the hangar next to the jetty") == []
    old, new = tokenizer.tokenizer.get_vocab(), grown_tok.tokenizer.get_vocab()
    assert all(new[t] == i for t, i in old.items())  # existing ids keep their rows
    table = grown.text_encoder.bert.embeddings.word_embeddings.weight
    torch.testing.assert_close(table[new["hangar"], :50], torch.from_numpy(vectors[words.index("hangar")]))
    assert not table[new["hangar"], 50:].any()
    assert model.text_encoder.bert.embeddings.word_embeddings.weight.shape[0] == tokenizer.vocab_size  # input untouched
    image = torch.randn(1, 3, 64, 64)
    ids, mask = tokenizer(["the red warehouse north of the river"], 12)
    ids2, mask2 = grown_tok(["the red warehouse north of the river"], 12)
    assert torch.equal(ids, ids2)
    with torch.no_grad():
        torch.testing.assert_close(grown(image, ids2, mask2), model(image, ids, mask))
        hangar, _ = grown_tok(["the hangar"], 12)
        assert not torch.equal(grown(image, hangar, mask2), grown(image, grown_tok(["the [UNK]"], 12)[0], mask2))
    assert extend_glove_vocabulary(grown, grown_tok, count=len(words))[2] == 0  # nothing left to add


def test_extend_glove_vocabulary_refuses_a_trained_word_table(monkeypatch: pytest.MonkeyPatch) -> None:
    model, tokenizer, words, _ = _glove_model(monkeypatch, trained_words=len(builtin_words()))
    with torch.no_grad():
        model.text_encoder.bert.embeddings.word_embeddings.weight[tokenizer.tokenizer.get_vocab()["red"]] += (
            0.5  # moved in training
        )
    with pytest.raises(UsageError, match="not frozen GloVe"):
        extend_glove_vocabulary(model, tokenizer, count=len(words))


def test_export_checkpoint_writes_the_grown_vocabulary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from types import SimpleNamespace

    from geocrobim.models import load_checkpoint
    from geocrobim.training import ExportCheckpoint

    model, tokenizer, words, _ = _glove_model(monkeypatch, trained_words=len(builtin_words()) - 10)
    module = SimpleNamespace(model=model, tokenizer=tokenizer, hparams={"model": "crobim_test"})
    trainer = SimpleNamespace(global_step=7, current_epoch=0, world_size=1, precision="32-true", is_global_zero=True,
                              sanity_checking=False, callback_metrics={}, max_steps=-1, val_check_interval=1.0)  # fmt: skip
    callback = ExportCheckpoint(str(tmp_path / "export"), glove_words=len(words))
    callback.on_fit_start(trainer, module)  # type: ignore[arg-type]  # stand-ins with the attributes used
    callback.on_fit_end(trainer, module)  # type: ignore[arg-type]
    ckpt = load_checkpoint(tmp_path / "export")
    assert ckpt.tokenizer.unknown_words("the lorry by the silo") == []
    assert ckpt.config.text_encoder.vocab_size == ckpt.tokenizer.vocab_size > tokenizer.vocab_size
    with torch.no_grad():
        model.text_encoder.bert.embeddings.word_embeddings.weight[tokenizer.tokenizer.get_vocab()["red"]] += 0.5
    with pytest.raises(UsageError, match="not frozen GloVe"):
        callback.on_fit_start(trainer, module)  # type: ignore[arg-type]
