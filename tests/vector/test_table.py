"""PolygonTable: row selection and column edits keep geometries, columns and CRS together."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS

from geocrobim.vector import PolygonTable


def _table() -> PolygonTable:
    boxes = np.array([shapely.box(i, 0, i + 1, 1) for i in range(3)])
    return PolygonTable(boxes, {"area_m2": np.array([1.0, 2.0, 3.0]), "name": np.array(["a", "b", "c"], dtype=object)},
                        CRS.from_epsg(32633))


def test_take_selects_rows_in_the_given_order():
    taken = _table().take(np.array([2, 0]))
    assert taken.columns["area_m2"].tolist() == [3.0, 1.0] and taken.columns["name"].tolist() == ["c", "a"]
    assert [g.bounds[0] for g in taken.geometries] == [2.0, 0.0]
    assert taken.crs == CRS.from_epsg(32633)
    assert len(_table().take(np.array([], dtype=int))) == 0


def test_with_columns_adds_after_or_before_and_replaces_in_place():
    table = _table()
    after = table.with_columns({"score": np.array([0.1, 0.2, 0.3])})
    assert list(after.columns) == ["area_m2", "name", "score"]
    before = table.with_columns({"rank": np.arange(1, 4)}, first=True)
    assert list(before.columns) == ["rank", "area_m2", "name"]
    replaced = table.with_columns({"area_m2": np.zeros(3)})
    assert list(replaced.columns) == ["area_m2", "name"] and replaced.columns["area_m2"].tolist() == [0.0] * 3
    assert table.columns["area_m2"].tolist() == [1.0, 2.0, 3.0]  # the original is unchanged
    with pytest.raises(ValueError, match="'score' has 2 values for 3 rows"):
        table.with_columns({"score": np.zeros(2)})
