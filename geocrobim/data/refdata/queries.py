"""Queries to and from JSON, so the index keeps each expression's meaning and tests can re-check it.

A query is written as nested objects tagged with their class: ``{"type": "Query",
"filter": {"type": "Filter", "category": "building", ...}, "locator": null, ...}``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from geocrobim.data.synthetic import grammar
from geocrobim.errors import DatasetError

#: the grammar classes a query may be made of.
CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        grammar.Query, grammar.Filter, grammar.Region, grammar.RiverSide, grammar.OnWater, grammar.Direction,
        grammar.NextTo, grammar.Between, grammar.AcrossRiver, grammar.Ordinal, grammar.Nearest,
    )
}  # fmt: skip


def query_to_json(value: Any) -> Any:
    """A query (or any part of one) as JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"type": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = query_to_json(getattr(value, f.name))
        return out
    return value


def query_from_json(data: Any) -> Any:
    """The query :func:`query_to_json` wrote."""
    if isinstance(data, dict):
        name = data.get("type")
        cls = CLASSES.get(str(name))
        if cls is None:
            raise DatasetError(f"unknown query part {name!r} in the index; regenerate it with geocrobim refdata")
        return cls(**{k: query_from_json(v) for k, v in data.items() if k != "type"})
    return data
