"""The built-in WordPiece vocabulary for models trained from scratch (no pretrained BERT).

The embedded default model cannot start from bert-base-uncased (no weights are reachable
offline), so its tokenizer is made here: the special tokens, the words of remote-sensing
referring expressions (the synthetic grammar's categories, colours, sizes, shapes,
positions, relations, ordinals), punctuation, and single characters with their ``##``
continuations so that any lowercase ASCII word still tokenises without ``[UNK]``.
The tokenizer is saved inside every checkpoint, so later edits here never change a
trained model.
"""

from __future__ import annotations

from geocrobim.models import TextTokenizer
from geocrobim.models.testing import WORDS, make_vocab

#: Words beyond :data:`geocrobim.models.testing.WORDS`, drawn from the synthetic grammar
#: and the RISBench / RRSIS-D / RefSegRS class names.
EXTRA_WORDS = (
    "largest smallest biggest longest widest narrowest tallest closest nearest farthest furthest "
    "leftmost rightmost topmost bottommost northernmost southernmost easternmost westernmost "
    "northeast northwest southeast southwest northeastern northwestern southeastern southwestern "
    "fourth fifth sixth last only other both from across along around opposite adjacent towards "
    "side image picture scene located situated lying standing parked moored sitting "
    "rectangular circular oval elongated triangular irregular l shaped shape sized size "
    "medium tiny huge colored coloured pink purple beige silver cyan teal tan maroon "
    "rooftop roofs flat pitched industrial residential commercial storage tanks oil "
    "helicopter airplanes ships boats vehicles cars trucks houses buildings warehouses fields courts "
    "pools lakes roads rivers bridges roundabouts stream canal pond reservoir shore bank banks "
    "crop farmland orchard meadow grass lawn woods woodland bare soil sand beach "
    "expressway service toll area diamond baseballfield basketballcourt tenniscourt groundtrackfield "
    "golffield storagetank trainstation stadium harbor windmill chimney dam overpass "
    "marking road sidewalk bikeway impervious surface low vegetation van trailer "
    "directly just immediately slightly far close than most more less are has have its their "
    "at then whose containing contains surrounded connected crossing crosses spanning runs"
).split()


def builtin_words() -> list[str]:
    """The built-in word list, in a fixed order, without duplicates."""
    return list(dict.fromkeys([*WORDS, *EXTRA_WORDS]))


def builtin_tokenizer() -> TextTokenizer:
    """A lowercase WordPiece tokenizer over :func:`builtin_words` (about 600 tokens)."""
    return TextTokenizer.from_vocab(make_vocab(builtin_words()))
