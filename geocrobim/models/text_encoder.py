"""Tokenizer and Text Encoder boxes of the CroBIM figure (BERT via transformers).

The figure feeds the word tokens to the text encoder twice, with shared weights:
(b) words alone -> word features T for LGFA, and (a) words followed by the CAPM prompts
-> prompted features Tp for MID. :class:`TextEncoder` exposes both passes;
the prompted one goes through ``inputs_embeds`` so BERT still adds its position and
token-type embeddings to the prompts.

transformers 5 trap: ``BertTokenizer`` is the fast class and takes ``vocab=``;
``vocab_file=`` is silently ignored and yields a 5-token vocab. :class:`TextTokenizer`
builds it the working way and checks the vocabulary size after construction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()  # before timm/transformers import torchvision

import torch
from torch import nn
from transformers import BertConfig, BertModel, BertTokenizer

from geocrobim.errors import CheckpointError, UsageError
from geocrobim.models.config import TextEncoderConfig
from geocrobim.models.safety import PICKLE_SUFFIXES, refuse_pickle
from geocrobim.run_warnings import warn

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def bert_config(config: TextEncoderConfig) -> BertConfig:
    """The transformers ``BertConfig`` equivalent of our config (no dropout changes)."""
    return BertConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        intermediate_size=config.intermediate,
        max_position_embeddings=config.max_position,
    )


class TextEncoder(nn.Module):
    """BERT without pooler, run on words alone or on words + prompt embeddings.

    Args:
        config: BERT size and optional pretrained source.
        load_pretrained: False skips ``config.pretrained``.
    """

    def __init__(self, config: TextEncoderConfig, load_pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        if load_pretrained and config.pretrained is not None:
            self.bert = _load_pretrained_bert(config)
        else:
            self.bert = BertModel(bert_config(config), add_pooling_layer=False)
        if config.trainable_layers is not None:
            self._freeze(config.trainable_layers)

    @property
    def hidden(self) -> int:
        return self.config.hidden

    def _freeze(self, trainable_layers: int) -> None:
        """RMSIN-style partial fine-tuning: embeddings and layers >= n stay fixed."""
        self.bert.embeddings.requires_grad_(False)
        for i, layer in enumerate(self.bert.encoder.layer):
            layer.requires_grad_(i < trainable_layers)

    def embed_words(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Word-embedding lookup (no positions): (B, L) long -> (B, L, H)."""
        return self.bert.embeddings.word_embeddings(input_ids)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Prompt-free pass (figure path b).

        Args:
            input_ids: (B, L) long.
            attention_mask: (B, L), 1 on real tokens.

        Returns:
            Word features T, (B, L, H).
        """
        return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def forward_prompted(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, prompts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Words followed by context-aware prompts (figure path a).

        Args:
            input_ids: (B, L) long.
            attention_mask: (B, L).
            prompts: (B, P, H) CAPM output, appended after the (padded) words.

        Returns:
            Prompted features Tp (B, L + P, H) and their attention mask (B, L + P).
        """
        words = self.embed_words(input_ids)
        embeds = torch.cat([words, prompts.to(words.dtype)], dim=1)
        ones = attention_mask.new_ones(prompts.shape[:2])
        mask = torch.cat([attention_mask, ones], dim=1)
        out = self.bert(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return out, mask


def _load_pretrained_bert(config: TextEncoderConfig) -> BertModel:
    """BertModel from a local ``save_pretrained`` directory or a hub id (safetensors only)."""
    source = str(config.pretrained)
    path = Path(source).expanduser()
    if path.exists() or source.startswith((".", "/", "~")):
        if not path.is_dir():
            raise CheckpointError(
                f"text encoder directory {str(path)!r} not found; provide a directory with config.json, "
                "model.safetensors and vocab.txt (save_pretrained output) or set text_encoder.pretrained=None"
            )
        if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
            for pickled in sorted(p for p in path.glob("*") if p.suffix in PICKLE_SUFFIXES):
                refuse_pickle(pickled)
            raise CheckpointError(
                f"text encoder directory {str(path)!r} must hold config.json and model.safetensors "
                "(BertModel.save_pretrained output); provide those files or set text_encoder.pretrained=None"
            )
        refuse_pickle(path / "model.safetensors")
        source = str(path)
    logger.info("loading text encoder weights from %s", source)
    try:
        bert = BertModel.from_pretrained(source, add_pooling_layer=False, use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"could not load BERT weights {source!r} ({type(exc).__name__}); offline, provide a local "
            "directory with config.json, model.safetensors and vocab.txt and set text_encoder.pretrained to it"
        ) from exc
    got = bert.config
    wanted = bert_config(config)
    fields = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
    bad = [
        f"{f}={getattr(got, f)} (config wants {getattr(wanted, f)})"
        for f in fields
        if getattr(got, f) != getattr(wanted, f)
    ]
    if got.max_position_embeddings < config.max_position:
        bad.append(f"max_position_embeddings={got.max_position_embeddings} (config wants {config.max_position})")
    if bad:
        raise CheckpointError(f"BERT weights {source!r} do not match text_encoder config: {'; '.join(bad)}")
    return bert


class TextTokenizer:
    """BERT WordPiece tokenizer with fixed-length padding.

    Args:
        tokenizer: a transformers ``BertTokenizer`` (fast, transformers 5).
    """

    def __init__(self, tokenizer: BertTokenizer) -> None:
        self.tokenizer = tokenizer
        if len(tokenizer) <= len(SPECIAL_TOKENS):
            raise CheckpointError(
                f"tokenizer has only {len(tokenizer)} tokens (the transformers 5 vocab_file= trap); "
                "build it with BertTokenizer(vocab=...) or from a save_pretrained directory"
            )

    @classmethod
    def from_dir(cls, path: str | Path) -> TextTokenizer:
        """Load from a directory with ``tokenizer.json`` (save_pretrained) or just ``vocab.txt``."""
        path = Path(path)
        vocab_txt = path / "vocab.txt"
        if (path / "tokenizer.json").is_file():
            tok = BertTokenizer.from_pretrained(str(path))
        elif vocab_txt.is_file():
            tok = BertTokenizer(vocab=str(vocab_txt))
        else:
            raise CheckpointError(f"tokenizer directory {str(path)!r} has neither tokenizer.json nor vocab.txt")
        if vocab_txt.is_file():
            expected = sum(1 for line in vocab_txt.read_text(encoding="utf-8").splitlines() if line)
            if len(tok) != expected:
                raise CheckpointError(
                    f"tokenizer in {str(path)!r} has {len(tok)} tokens but vocab.txt lists {expected}; "
                    "rebuild it with BertTokenizer(vocab='vocab.txt')"
                )
        return cls(tok)

    @classmethod
    def from_vocab(cls, tokens: Sequence[str], lowercase: bool = True) -> TextTokenizer:
        """Build from an ordered token list (special tokens first, as ``vocab.txt``)."""
        missing = [t for t in SPECIAL_TOKENS if t not in tokens]
        if missing:
            raise UsageError(f"vocabulary lacks special tokens {missing}; put them first")
        vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
        return cls(BertTokenizer(vocab=vocab, do_lower_case=lowercase))

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def __len__(self) -> int:
        return len(self.tokenizer)

    def save(self, path: str | Path) -> Path:
        """Write ``save_pretrained`` files (tokenizer.json, tokenizer_config.json) plus vocab.txt."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(path))
        vocab = sorted(self.tokenizer.get_vocab().items(), key=lambda kv: kv[1])
        (path / "vocab.txt").write_text("".join(f"{tok}\n" for tok, _ in vocab), encoding="utf-8")
        return path

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` the vocabulary does not know.

        A word is unknown when it becomes ``[UNK]`` (whole-word vocabularies, such as the
        shipped model's) or is spelt out letter by letter (WordPiece vocabularies fall back
        to single characters; "roof ##ed" is known, "z ##o ##r ##b" is not).
        """
        unknown = []
        for word in dict.fromkeys(re.findall(r"\w+", text)):
            pieces = self.tokenizer.tokenize(word)
            spelt = len(pieces) > 1 and all(len(p.removeprefix("##")) == 1 for p in pieces)
            if self.tokenizer.unk_token in pieces or spelt:
                unknown.append(word)
        return unknown

    def __call__(
        self, texts: Sequence[str], max_tokens: int, *, warn_user: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenise to fixed length (``[CLS] ... [SEP]``, truncated, padded with id 0).

        Args:
            texts: E expressions.
            max_tokens: L, special tokens included.
            warn_user: warn about cut sentences and unknown words (what a user typed);
                training batches pass False: a generated sentence is nobody's typo, and
                the check would run on every batch.

        Returns:
            input_ids (E, L) long and attention_mask (E, L) long (1 on real tokens).
        """
        if isinstance(texts, str):
            raise UsageError("pass a list of expressions, not a single string")
        texts = list(texts)
        if not texts:
            raise UsageError("no expression given; pass at least one")
        if warn_user:
            self._warn_about(texts, max_tokens)
        enc = self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=max_tokens, return_tensors="pt"
        )
        return enc["input_ids"].long(), enc["attention_mask"].long()

    def _warn_about(self, texts: list[str], max_tokens: int) -> None:
        """One warning per sentence cut at ``max_tokens`` and per sentence with unknown words."""
        full = self.tokenizer(texts, add_special_tokens=True)["input_ids"]
        for text, ids in zip(texts, full, strict=True):
            if len(ids) > max_tokens:
                # [CLS] + max_tokens - 2 tokens + [SEP] are kept: say exactly which words are not.
                cut = self.tokenizer.decode(ids[max_tokens - 1 : -1])
                warn(
                    logger, "expression %r is longer than the model's %d tokens: %r was cut; shorten it",
                    text, max_tokens, cut,
                )  # fmt: skip
            unknown = self.unknown_words(text)
            if unknown:
                warn(
                    logger, "expression %r: the model's vocabulary does not know %s (read as an unknown word)",
                    text, ", ".join(repr(w) for w in unknown),
                )  # fmt: skip
