"""Referring expressions: validation, the expressions file, and file-name slugs.

A run takes one or more sentences. Each becomes one set of outputs, named by a
slug of the sentence so that a folder of results stays readable in a file browser.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from geocrobim.errors import InputNotFoundError, UsageError

#: Longest slug kept in file names; the rest of the sentence is dropped (a short hash keeps them apart).
SLUG_MAX = 48
#: Endings of raster and image files: a one-word "expression" ending so is a file name.
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img", ".png", ".jpg", ".jpeg")


def clean_expressions(expressions: Iterable[str]) -> list[str]:
    """Collapse whitespace in each expression and refuse empty ones.

    Args:
        expressions: the sentences as given on the command line or in a file.

    Returns:
        The sentences with runs of whitespace collapsed to one space, in order,
        duplicates removed (the same sentence would write the same files twice).

    Raises:
        UsageError: no expression at all, or an empty / blank one.
    """
    cleaned: list[str] = []
    for position, text in enumerate(expressions, start=1):
        if not isinstance(text, str):
            raise UsageError(f"expression {position} is {type(text).__name__}, not text; pass sentences as strings")
        sentence = " ".join(text.split())
        if not sentence:
            raise UsageError(f"expression {position} is empty or blank ({text!r}); give a sentence such as 'the large pond'")
        if sentence not in cleaned:
            cleaned.append(sentence)
    if not cleaned:
        raise UsageError("no expression given; pass at least one sentence, e.g. 'the red-roofed warehouse'")
    return cleaned


def looks_like_raster(text: str) -> bool:
    """Whether a command-line expression is a raster file's name rather than a sentence.

    The rule: a single word (no whitespace) that ends in one of :data:`RASTER_SUFFIXES`
    (any case), or that names an existing file. A referring expression is a phrase with
    spaces, so no sentence is caught; a one-word expression is caught only if a file of
    that name exists, which the error message then shows.
    """
    word = text.strip()
    if not word or any(c.isspace() for c in word):
        return False
    return word.lower().endswith(RASTER_SUFFIXES) or Path(word).expanduser().is_file()


def refuse_raster_paths(scene: str | Path, expressions: Sequence[str]) -> None:
    """Refuse expressions that are file names: ``segment a.tif b.tif c.tif "the river"``.

    Such a command means band files, which ``segment`` cannot take one by one: they are
    stacked into one VRT first, and the message gives that command with the user's files.

    Raises:
        UsageError: an expression looks like a raster file (:func:`looks_like_raster`).
    """
    files = [text for text in expressions if looks_like_raster(text)]
    if not files:
        return
    sentences = [text for text in expressions if not looks_like_raster(text)]
    bands = " ".join(shlex.quote(str(p)) for p in (scene, *files))
    example = shlex.quote(sentences[0]) if sentences else '"..."'
    more = f" (and {len(files) - 1} more)" if len(files) > 1 else ""
    raise UsageError(
        f"{files[0]!r}{more} looks like a raster file, not an expression: segment reads one SCENE. "
        f"To use band files together, stack them first: gdalbuildvrt -separate stack.vrt {bands}, "
        f"then: geocrobim segment stack.vrt {example}"
    )


def read_expressions_file(path: str | Path) -> list[str]:
    """One expression per line; blank lines and lines starting with ``#`` are skipped.

    Raises:
        InputNotFoundError: the file does not exist.
        UsageError: the file cannot be decoded as UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"expressions file not found: {path}; give a text file with one sentence per line")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UsageError(f"expressions file {path} is not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def slugify(expression: str) -> str:
    """A short, file-name-safe, lower-case ASCII slug of an expression.

    >>> slugify("The red-roofed warehouse, north of the river!")
    'the-red-roofed-warehouse-north-of-the-river'
    """
    ascii_text = unicodedata.normalize("NFKD", expression).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > SLUG_MAX:
        slug = slug[:SLUG_MAX].rstrip("-")
    return slug or "expression"


def unique_slugs(expressions: list[str]) -> list[str]:
    """Slugs for a list of expressions, suffixed ``-2``, ``-3``... where two would collide."""
    slugs: list[str] = []
    for expression in expressions:
        base = slug = slugify(expression)
        count = 1
        while slug in slugs:
            count += 1
            slug = f"{base}-{count}"
        slugs.append(slug)
    return slugs
