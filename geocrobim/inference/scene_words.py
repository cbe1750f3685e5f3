"""Scene-wide words: the parts of a sentence that no window can resolve on its own.

"The rightmost swimming pool", "the second ship from the left", "the pond in the left
part of the image": a model window sees 256 m of a scene that may span kilometres, so it
can only say which pool is rightmost *in that window*, and "the image" it sees is the
window. The engine therefore reads these words itself:

- the model is asked for every candidate, in the sentence without them ("every swimming
  pool", "every pond": the shipped model was trained on such sentences, whose mask is all the
  objects they fit, so it lights each pool rather than the one it likes best);
- after the components are scored, the engine ranks the candidates over the whole
  scene (by easting, northing or area) or keeps those in the named part of the scene.

The bank of the river ("the green house north of the river", "on the eastern bank of the
river") is read too, but left in the model's sentence: the engine asks the model for "the
river" on the coarse view of the whole scene and keeps only the candidates on the named bank
(:mod:`geocrobim.inference.river`).

Only the words this module recognises are taken out; any other sentence goes to the model
unchanged. Directions are geographic ("leftmost" = westernmost, "top" = north), as a
north-up map shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

#: superlative -> (key, descending). Keys: "x" easting, "y" northing, "size" area.
SUPERLATIVES: dict[str, tuple[str, bool]] = {
    "largest": ("size", True),
    "biggest": ("size", True),
    "smallest": ("size", False),
    "tiniest": ("size", False),
    "leftmost": ("x", False),
    "westernmost": ("x", False),
    "rightmost": ("x", True),
    "easternmost": ("x", True),
    "topmost": ("y", True),
    "uppermost": ("y", True),
    "northernmost": ("y", True),
    "bottommost": ("y", False),
    "bottom-most": ("y", False),
    "lowest": ("y", False),
    "southernmost": ("y", False),
}
#: "from the left" etc. -> (key, descending).
SIDES: dict[str, tuple[str, bool]] = {
    "left": ("x", False),
    "west": ("x", False),
    "right": ("x", True),
    "east": ("x", True),
    "top": ("y", True),
    "north": ("y", True),
    "bottom": ("y", False),
    "south": ("y", False),
}
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4}
#: Words of a part of the image -> the third of that axis they name.
VERTICAL = {"top": "top", "upper": "top", "bottom": "bottom", "lower": "bottom"}
HORIZONTAL = {"left": "left", "right": "right"}
CENTRE = ("centre", "center", "middle")

_WORD = r"(?<![\w-])({})(?![\w-])"
_SUPERLATIVE = re.compile(_WORD.format("|".join(map(re.escape, SUPERLATIVES))), re.IGNORECASE)
_ORDINAL = re.compile(_WORD.format("|".join(ORDINALS)) + r"\s+", re.IGNORECASE)
_FROM_SIDE = re.compile(r"\s+from\s+the\s+(" + "|".join(SIDES) + r")(?![\w-])", re.IGNORECASE)
_IMAGE = r"(?:image|scene|picture|map|raster)"
# "in the top left corner", "at the upper right part of the image", "on the left side of the image",
# "in the centre of the image", "on the left" (sentence end only: "on the left bank of the river"
# is the river's, not the scene's).
_REGION = re.compile(
    r"\s*,?\s*\b(?:in|at|on|near|towards?)\s+the\s+"
    r"(?P<where>(?:(?:top|upper|bottom|lower)[\s-]+)?(?:left|right)|top|upper|bottom|lower|centre|center|middle)"
    r"(?:\s+(?:corner|side|part|half|edge|area))?"
    r"(?:\s+of\s+the\s+" + _IMAGE + r")?"
    r"(?=\s*[.!?]?\s*$)",
    re.IGNORECASE,
)
# "north of the river" (also "to the north of ..."), "on the north side of the river", "on the
# northern bank of the river". Only the direction is read: the words stay in the sentence. A compound
# ("north-east of the river") names no single bank, so it goes to the model: no "east" inside it.
_BANK = re.compile(
    r"(?:on\s+the\s+(?P<bank>north|south|east|west)(?:ern)?\s+(?:side|bank|shore)|(?<![\w-])(?P<direction>north|south|east|west))"
    r"\s+of\s+the\s+river(?![\w-])",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"^\s*(?:the|a|an|one)\s+", re.IGNORECASE)
_DANGLING = re.compile(r"\s+(?:located|situated|lying|that is|which is|which lies|that lies)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SceneRank:
    """Rank among the scene's candidates: "the second largest" is ``SceneRank("size", 1, True)``.

    Attributes:
        key: ``"x"`` (easting), ``"y"`` (northing) or ``"size"`` (area).
        position: 0 for the first, 1 for the second, ...
        descending: count from the largest value (rightmost, northernmost, largest).
    """

    key: str
    position: int
    descending: bool


@dataclass(frozen=True)
class SceneWords:
    """A sentence split into what the model reads and what the engine resolves.

    Attributes:
        expression: the sentence as given.
        model_text: what the model windows are asked ("every swimming pool ...": all the candidates).
        rank: the scene-wide superlative or ordinal, if any.
        region: ``(horizontal, vertical)`` thirds of the scene, each ``"left"``/``"right"``,
            ``"top"``/``"bottom"``, ``"centre"`` or None (no constraint on that axis); None
            when the sentence names no part of the scene.
        bank: ``"north"``, ``"south"``, ``"east"`` or ``"west"``: the bank of the river the
            referent lies on; None when the sentence names none (or it is left to the model).
    """

    expression: str
    model_text: str
    rank: SceneRank | None = None
    region: tuple[str | None, str | None] | None = None
    bank: str | None = None

    @property
    def scene_wide(self) -> bool:
        """Whether the engine has anything to resolve (otherwise the model reads the whole sentence)."""
        return self.rank is not None or self.region is not None or self.bank is not None

    @property
    def picks(self) -> bool:
        """Whether the engine picks the candidate itself, by a rank or a part of the scene (a bank only
        narrows the candidates; the score still picks among them)."""
        return self.rank is not None or self.region is not None

    def describe(self) -> str:
        """Plain words for logs and notes, e.g. ``"rank 2 by easting, largest first; in the top left of the scene"``."""
        parts = []
        if self.rank is not None:
            what = {"x": "easting", "y": "northing", "size": "area"}[self.rank.key]
            parts.append(f"rank {self.rank.position + 1} by {what}, {'largest' if self.rank.descending else 'smallest'} first")
        if self.region is not None:
            parts.append("in the " + " ".join(p for p in (self.region[1], self.region[0]) if p) + " of the scene")
        if self.bank is not None:
            parts.append(f"{self.bank} of the river")
        return "; ".join(parts)


def read_scene_words(expression: str, *, banks: bool = True) -> SceneWords:
    """Split the scene-wide words off a sentence.

    Args:
        expression: a referring expression, e.g. "the second small grey ship from the right".
        banks: read the bank of the river ("north of the river") for the engine to resolve; False
            leaves it to the model alone (the engine does when it finds no river to measure it against).

    Returns:
        The split; ``model_text`` is the sentence itself when nothing scene-wide was found,
        or when taking the words out would leave no noun ("the largest").
    """
    text = expression
    rank = None
    region = None
    bank = None
    river = _BANK.search(text) if banks else None
    if river is not None:
        # The words stay in the model's sentence: in the windows that see the river they still
        # help, and taking them out lost a referent on held-out scenes (docs/grounding.md).
        bank = (river.group("bank") or river.group("direction")).lower()
    side = _FROM_SIDE.search(text)
    ordinal = _ORDINAL.search(text)
    superlative = _SUPERLATIVE.search(text)
    if ordinal is not None and side is not None and ordinal.start() < side.start():
        # "the second small grey ship from the right"
        key, descending = SIDES[side.group(1).lower()]
        rank = SceneRank(key, ORDINALS[ordinal.group(1).lower()], descending)
        text = _cut(_cut(text, side), ordinal)
    elif superlative is not None:
        # "the largest ...", "the second largest ...", "the rightmost ..."
        key, descending = SUPERLATIVES[superlative.group(1).lower()]
        text = _cut(text, superlative)
        position = 0
        if ordinal is not None and ordinal.end() == superlative.start():
            # The ordinal's span lies before the superlative's, so the cut above left it in place.
            position = ORDINALS[ordinal.group(1).lower()]
            text = _cut(text, ordinal)
        rank = SceneRank(key, position, descending)
    match = _REGION.search(text)
    if match is not None:
        words = re.split(r"[\s-]+", match.group("where").lower())
        horizontal = next((HORIZONTAL[w] for w in words if w in HORIZONTAL), None)
        vertical = next((VERTICAL[w] for w in words if w in VERTICAL), None)
        if words[0] in CENTRE:
            horizontal = vertical = "centre"
        region = (horizontal, vertical)
        text = _DANGLING.sub("", text[: match.start()])
    text = " ".join(text.split())
    if (rank is None and region is None and bank is None) or not _has_noun(text):
        return SceneWords(expression, expression)
    split = SceneWords(expression, text, rank, region, bank)
    # the model is asked for every candidate the engine picks among; a bank alone stays in the
    # model's sentence, which then names the referent itself
    return replace(split, model_text=every_text(text)) if split.picks else split


def every_text(text: str) -> str:
    """ "the small grey ship" -> "every small grey ship": the sentence that asks for all the candidates."""
    return "every " + _ARTICLE.sub("", text, count=1)


def _cut(text: str, match: re.Match[str]) -> str:
    """``text`` without the matched span (its own spaces collapse later)."""
    return text[: match.start()] + " " + text[match.end() :]


def _has_noun(text: str) -> bool:
    """Whether something is left to look for besides articles ("the", "a", "one")."""
    return any(word.lower() not in {"the", "a", "an", "one", "object", "thing"} for word in re.findall(r"[\w-]+", text))
