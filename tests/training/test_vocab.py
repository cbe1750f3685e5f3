"""The built-in vocabulary covers every word the synthetic grammar and the flips can write."""

from __future__ import annotations

import re
from collections.abc import Iterator

from geocrobim.data.synthetic import phrases
from geocrobim.data.synthetic.objects import NOUNS
from geocrobim.training.augment import _SWAPS
from geocrobim.training.vocab import builtin_tokenizer, builtin_words


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
