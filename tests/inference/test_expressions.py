"""Expressions: cleaning, the expressions file, slugs for file names."""

from __future__ import annotations

import pytest

from geocrobim.errors import InputNotFoundError, UsageError
from geocrobim.inference.expressions import clean_expressions, read_expressions_file, slugify, unique_slugs


def test_whitespace_is_collapsed_and_duplicates_dropped():
    assert clean_expressions(["  the  red\troof ", "the red roof", "a pond"]) == ["the red roof", "a pond"]


@pytest.mark.parametrize("bad", [[], [""], ["   "], ["ok", "\n\t"]])
def test_empty_or_blank_expressions_are_usage_errors(bad):
    with pytest.raises(UsageError):
        clean_expressions(bad)


def test_non_text_is_a_usage_error():
    with pytest.raises(UsageError, match="not text"):
        clean_expressions([3])  # type: ignore[list-item]  # a bad value on purpose


def test_slugs_are_safe_short_and_unique():
    assert slugify("The red-roofed warehouse, north of the river!") == "the-red-roofed-warehouse-north-of-the-river"
    assert slugify("Café près du pont") == "cafe-pres-du-pont"
    assert slugify("!!!") == "expression"
    assert len(slugify("word " * 40)) <= 48 and not slugify("word " * 40).endswith("-")
    assert unique_slugs(["A pond", "a pond!", "a-pond-2", "x"]) == ["a-pond", "a-pond-2", "a-pond-2-2", "x"]


def test_expressions_file(tmp_path):
    path = tmp_path / "exprs.txt"
    path.write_text("# targets\nthe large pond\n\n  the stadium  \n", encoding="utf-8")
    assert read_expressions_file(path) == ["the large pond", "the stadium"]
    with pytest.raises(InputNotFoundError):
        read_expressions_file(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UsageError, match="UTF-8"):
        read_expressions_file(tmp_path / "bad.txt")
