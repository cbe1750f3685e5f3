"""Tokenizer (the transformers 5 vocab trap) and the BERT text encoder's two passes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from transformers import BertModel, BertTokenizer

from geocrobim.errors import CheckpointError, UsageError
from geocrobim.models import TextEncoderConfig, TextTokenizer
from geocrobim.models.testing import make_vocab
from geocrobim.models.text_encoder import TextEncoder, bert_config

SMALL = TextEncoderConfig(hidden=32, layers=2, heads=2, intermediate=64, vocab_size=256, max_position=40)


def _vocab_file(tmp_path: Path) -> Path:
    path = tmp_path / "vocab.txt"
    path.write_text("".join(f"{t}\n" for t in make_vocab()), encoding="utf-8")
    return path


def test_vocab_size_matches_the_file(tmp_path: Path) -> None:
    vocab = _vocab_file(tmp_path)
    tok = TextTokenizer.from_dir(tmp_path)
    assert tok.vocab_size == len(make_vocab()) == len(vocab.read_text().splitlines())


def test_vocab_file_keyword_trap_is_caught(tmp_path: Path) -> None:
    vocab = _vocab_file(tmp_path)
    with pytest.raises(CheckpointError, match="5 tokens"):
        TextTokenizer(BertTokenizer(vocab_file=str(vocab)))  # transformers 5 ignores vocab_file=


def test_saved_tokenizer_round_trips(tmp_path: Path) -> None:
    tok = TextTokenizer.from_vocab(make_vocab())
    tok.save(tmp_path / "tok")
    again = TextTokenizer.from_dir(tmp_path / "tok")
    texts = ["The red-roofed warehouse, north of the river!", "ship 2"]
    assert torch.equal(tok(texts, 16)[0], again(texts, 16)[0])


def test_encoding_is_fixed_length_without_unknowns() -> None:
    tok = TextTokenizer.from_vocab(make_vocab())
    ids, mask = tok(["The red-roofed warehouse north of the river", "zzyzx quarry 42"], 16)
    assert ids.dtype == torch.long and ids.shape == mask.shape == (2, 16)
    unk = tok.tokenizer.convert_tokens_to_ids("[UNK]")
    assert not (ids == unk).any()  # letters and ## pieces cover any lowercase word
    cls, sep = tok.tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    assert ids[0, 0] == cls and ids[0, int(mask[0].sum()) - 1] == sep
    assert (ids[mask == 0] == 0).all()


def test_long_expression_is_truncated_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    tok = TextTokenizer.from_vocab(make_vocab())
    with caplog.at_level(logging.WARNING, logger="geocrobim.models.text_encoder"):
        ids, mask = tok(["the ship " * 20 + "near the red tank"], 8)
    assert ids.shape == (1, 8) and mask.all()
    # [CLS] + 6 words + [SEP] are kept; the warning quotes exactly what was dropped.
    assert "longer than the model's 8 tokens" in caplog.text
    assert "tokens: '" + "the ship " * 17 + "near the red tank' was cut" in caplog.text


def test_training_batches_tokenise_without_user_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """Generated sentences are nobody's typo: the collates pass warn_user=False."""
    from geocrobim.training.samples import ReferringCollate

    tok = TextTokenizer.from_vocab(make_vocab())
    texts = ["the zorblax ship " * 8, "the ship"]
    with caplog.at_level(logging.WARNING, logger="geocrobim.models.text_encoder"):
        quiet = tok(texts, 8, warn_user=False)
        batch = ReferringCollate(tok, 8)(
            [{"image": torch.zeros(3, 8, 8), "mask": torch.zeros(8, 8, dtype=torch.bool), "expression": t, "id": str(i)}
             for i, t in enumerate(texts)]  # fmt: skip
        )
    assert not caplog.records
    assert torch.equal(batch["input_ids"], quiet[0])
    with caplog.at_level(logging.WARNING, logger="geocrobim.models.text_encoder"):
        assert torch.equal(tok(texts, 8)[0], quiet[0])
    assert "'zorblax'" in caplog.text and "was cut" in caplog.text


def test_unknown_words_are_named() -> None:
    tok = TextTokenizer.from_vocab(make_vocab())
    assert tok.unknown_words("the zorblax ship near the red tank") == ["zorblax"]  # spelt letter by letter
    whole = TextTokenizer.from_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "ship"])
    assert whole.unknown_words("the crimson ship, the crimson one") == ["crimson", "one"]  # [UNK] in a whole-word vocab


def test_bad_inputs_are_usage_errors() -> None:
    tok = TextTokenizer.from_vocab(make_vocab())
    with pytest.raises(UsageError):
        tok("a ship", 8)
    with pytest.raises(UsageError):
        tok([], 8)


def test_prompted_pass_shares_weights_and_appends_prompts() -> None:
    torch.manual_seed(0)
    encoder = TextEncoder(SMALL).eval()
    ids = torch.randint(5, 256, (2, 10))
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, 6:] = 0
    prompts = torch.randn(2, 3, 32)
    words = encoder(ids, mask)
    prompted, prompted_mask = encoder.forward_prompted(ids, mask, prompts)
    assert words.shape == (2, 10, 32) and prompted.shape == (2, 13, 32)
    assert torch.equal(prompted_mask[:, 10:], torch.ones(2, 3, dtype=torch.long))
    assert not torch.allclose(prompted[:, :10], words)  # prompts influence the words through self-attention
    # With no prompts, the prompted pass (through inputs_embeds) is exactly the word-only pass: same weights.
    same, _ = encoder.forward_prompted(ids, mask, prompts[:, :0])
    assert torch.allclose(same, words, atol=1e-6)


def test_local_bert_directory_is_loaded(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = BertModel(bert_config(SMALL), add_pooling_layer=False)
    source.save_pretrained(tmp_path / "bert")
    assert (tmp_path / "bert" / "model.safetensors").is_file()
    encoder = TextEncoder(TextEncoderConfig(**{**SMALL.__dict__, "pretrained": str(tmp_path / "bert")}))
    assert torch.equal(
        encoder.bert.embeddings.word_embeddings.weight, source.embeddings.word_embeddings.weight
    )


def test_local_bert_of_another_size_is_refused(tmp_path: Path) -> None:
    BertModel(bert_config(SMALL), add_pooling_layer=False).save_pretrained(tmp_path / "bert")
    config = TextEncoderConfig(**{**SMALL.__dict__, "hidden": 64, "pretrained": str(tmp_path / "bert")})
    with pytest.raises(CheckpointError, match="hidden_size=32 \\(config wants 64\\)"):
        TextEncoder(config)


def test_missing_or_pickled_bert_directory_gives_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="absent.*not found.*model.safetensors"):
        TextEncoder(TextEncoderConfig(**{**SMALL.__dict__, "pretrained": str(tmp_path / "absent")}))
    (tmp_path / "old").mkdir()
    torch.save({}, tmp_path / "old" / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="carries a pickle"):
        TextEncoder(TextEncoderConfig(**{**SMALL.__dict__, "pretrained": str(tmp_path / "old")}))


def test_trainable_layers_freezes_the_rest() -> None:
    encoder = TextEncoder(TextEncoderConfig(**{**SMALL.__dict__, "trainable_layers": 1}))
    assert not encoder.bert.embeddings.word_embeddings.weight.requires_grad
    assert all(p.requires_grad for p in encoder.bert.encoder.layer[0].parameters())
    assert not any(p.requires_grad for p in encoder.bert.encoder.layer[1].parameters())
