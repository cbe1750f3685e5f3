"""Words for queries: turn a :class:`~geocrobim.data.synthetic.grammar.Query` into English.

Each construction has several phrasings; ``canonical=True`` always takes the first
one (used for fixed expressions such as the sample scene's), otherwise one is drawn
from the generator so the model meets paraphrases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geocrobim.data.synthetic.grammar import (
    AcrossRiver,
    Between,
    Direction,
    Filter,
    Locator,
    Nearest,
    NextTo,
    OnWater,
    Ordinal,
    Query,
    Region,
    RiverSide,
)
from geocrobim.data.synthetic.objects import NOUNS

ROOFED = frozenset({"warehouse", "house"})

#: (category, size) -> (size adjective or "", noun) phrasings that carry the size themselves.
SIZE_NOUNS = {
    ("vehicle", "small"): (("", "car"), ("small", "vehicle"), ("", "car")),
    ("vehicle", "large"): (("", "truck"), ("large", "vehicle"), ("", "lorry")),
    ("ship", "small"): (("", "boat"), ("small", "boat"), ("small", "ship")),
    ("ship", "large"): (("large", "ship"), ("", "cargo ship"), ("large", "vessel")),
}

REGION_WORDS = {
    "top left": ("in the top left corner", "at the top left of the image", "in the upper left part of the image"),
    "top": ("at the top of the image", "in the upper part of the image", "near the top of the image"),
    "top right": ("in the top right corner", "at the top right of the image", "in the upper right part of the image"),
    "left": ("on the left side of the image", "on the left", "in the left part of the image"),
    "centre": ("in the centre of the image", "in the middle of the image", "at the center of the image"),
    "right": ("on the right side of the image", "on the right", "in the right part of the image"),
    "bottom left": ("in the bottom left corner", "at the bottom left of the image", "in the lower left part of the image"),
    "bottom": ("at the bottom of the image", "in the lower part of the image", "near the bottom of the image"),
    "bottom right": ("in the bottom right corner", "at the bottom right of the image", "in the lower right part of the image"),
}
SCREEN = {"north": "above", "south": "below", "west": "to the left of", "east": "to the right of"}
SUPERLATIVE = {
    ("size", True): ("largest", "biggest"),
    ("size", False): ("smallest",),
    ("x", False): ("leftmost", "westernmost"),
    ("x", True): ("rightmost", "easternmost"),
    ("y", False): ("topmost", "northernmost", "uppermost"),
    ("y", True): ("bottom-most", "southernmost", "lowest"),
}
FROM = {("x", False): "left", ("x", True): "right", ("y", False): "top", ("y", True): "bottom"}


class Wording:
    """Chooses among phrasings: the first when canonical, else a random one.

    A category keeps one noun within an expression, so "the storage building north
    of the warehouse" never reads as two kinds of building.
    """

    def __init__(self, rng: np.random.Generator | None, canonical: bool = False) -> None:
        self.rng = rng
        self.canonical = canonical or rng is None
        self.nouns: dict[object, object] = {}

    def noun(self, key: object, options: Sequence[object]) -> object:
        """The same choice among ``options`` every time ``key`` comes up."""
        if key not in self.nouns:
            index = 0 if self.canonical or self.rng is None else int(self.rng.integers(len(options)))
            self.nouns[key] = options[index]
        return self.nouns[key]

    def pick(self, options: Sequence[str]) -> str:
        """One of ``options``."""
        if self.canonical or self.rng is None:
            return options[0]
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        """True with probability ``p`` (never when canonical)."""
        return not self.canonical and self.rng is not None and bool(self.rng.random() < p)


def plural(noun: str) -> str:
    """ "warehouses", "lorries", "storage tanks": the plural of a noun phrase's last word."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def noun_phrase(f: Filter, w: Wording, ordinal: Ordinal | Nearest | None = None, *, many: bool = False) -> str:
    """ "the largest red-roofed warehouse", "the second car from the left" ("the warehouses" when ``many``)."""
    size_noun = SIZE_NOUNS.get((f.category, f.size or ""))
    if size_noun:
        size_word, noun = w.noun((f.category, f.size), size_noun)  # type: ignore[misc]  # SIZE_NOUNS values are (size word, noun) pairs
    else:
        # a category of the user's own layers (geocrobim.data.refdata) is its own noun
        size_word, noun = "", str(w.noun(f.category, NOUNS.get(f.category, (f.category,))))
        if f.size in ("large", "small"):
            size_word = w.pick(("large", "big")) if f.size == "large" else w.pick(("small", "little"))
        elif f.size:  # a size class from the user's attribute, said as it is
            size_word = f.size
    noun = plural(noun) if many else noun
    pre: list[str] = [size_word] if size_word else []
    post = ""
    if f.colour:
        if f.category in ROOFED:
            style = w.pick(("roofed", "with", "plain"))
            if style == "roofed":
                pre.append(f"{f.colour}-roofed")
            elif style == "with":
                post = f" with a {f.colour} roof"
            else:
                pre.append(f.colour)
        else:
            pre.append(f.colour)
    if f.form:
        pre.append(f.form)
    if isinstance(ordinal, Nearest):
        phrase = "the " + " ".join([*pre, noun]) + post
        return f"{phrase} {w.pick(('nearest', 'nearest to', 'closest to'))} {anchor_phrase(ordinal.anchor, w)}"
    if ordinal is not None and ordinal.rank == 0:
        pre.insert(0, w.pick(SUPERLATIVE[(ordinal.key, ordinal.descending)]))
    elif ordinal is not None and ordinal.key == "size":
        pre.insert(0, "second " + SUPERLATIVE[("size", ordinal.descending)][0])
    phrase = "the " + " ".join([*pre, noun]) + post
    if ordinal is not None and ordinal.rank == 1 and ordinal.key != "size":
        side = FROM[(ordinal.key, ordinal.descending)]
        phrase = "the second " + phrase[4:] + f" from the {side}"
    return phrase


def anchor_phrase(q: Query, w: Wording) -> str:
    """Noun phrase of an anchor object (anchors have no locator of their own)."""
    return noun_phrase(q.filter, w, q.ordinal)


def locator_phrase(loc: Locator, w: Wording) -> str:
    """ "north of the river", "next to the white storage tank", ..."""
    if isinstance(loc, Region):
        return w.pick(REGION_WORDS[loc.name])
    if isinstance(loc, RiverSide):
        d = loc.direction
        return w.pick((f"{d} of the river", f"on the {d} side of the river", f"on the {d}ern bank of the river", f"to the {d} of the river"))
    if isinstance(loc, OnWater):
        return w.pick((f"on the {loc.kind}", f"in the {loc.kind}", f"sailing on the {loc.kind}"))
    if isinstance(loc, Direction):
        a = anchor_phrase(loc.anchor, w)
        d = loc.direction
        return w.pick((f"{d} of {a}", f"to the {d} of {a}", f"{SCREEN[d]} {a}"))
    if isinstance(loc, NextTo):
        a = anchor_phrase(loc.anchor, w)
        return w.pick((f"next to {a}", f"beside {a}", f"near {a}", f"adjacent to {a}", f"close to {a}"))
    if isinstance(loc, Between):
        return f"between {anchor_phrase(loc.first, w)} and {anchor_phrase(loc.second, w)}"
    if isinstance(loc, AcrossRiver):
        a = anchor_phrase(loc.anchor, w)
        return w.pick((f"across the river from {a}", f"on the other side of the river from {a}", f"on the opposite bank from {a}"))
    raise TypeError(f"unknown locator {loc!r}")


def realise(q: Query, rng: np.random.Generator | None, *, canonical: bool = False) -> str:
    """English for a query.

    Args:
        q: the query.
        rng: draws the phrasing; None or ``canonical=True`` gives the first phrasing of each part.
        canonical: always the first phrasing.

    Returns:
        The expression, e.g. "the red-roofed warehouse north of the river".
    """
    w = Wording(rng, canonical)
    if q.every:
        # "every" is how the engine asks (geocrobim.inference.scene_words); the plurals are paraphrases
        head = w.pick(("every", "every", "each", "all the", "all"))
        text = f"{head} {noun_phrase(q.filter, w, many=head.startswith('all'))[4:]}"
        links: tuple[str, ...] = ("", "", " located") + ((" that are", " which lie") if head.startswith("all") else (" that is", " which lies"))
    else:
        text = noun_phrase(q.filter, w, q.ordinal)
        links = ("", "", " located", " that is", " which lies")
    if q.locator is not None:
        link = w.pick(links) if not w.canonical else ""
        text = f"{text}{link} {locator_phrase(q.locator, w)}"
    if w.chance(0.3):
        text = text[0].upper() + text[1:]
    return text
