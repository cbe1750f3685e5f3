"""make_grid: coverage, bounds, overlap and ordering, as properties over many raster sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geocrobim.errors import UsageError
from geocrobim.raster import make_grid


@st.composite
def tilings(draw: st.DrawFn) -> tuple[int, int, int, int]:
    tile = draw(st.integers(1, 96))
    overlap = draw(st.integers(0, tile - 1))
    # Up to ~14 windows per axis, from rasters far smaller than a tile to many strides.
    limit = tile + 13 * (tile - overlap)
    width = draw(st.integers(1, limit))
    height = draw(st.integers(1, limit))
    return width, height, tile, overlap


@settings(max_examples=200, deadline=None)
@given(tilings())
def test_every_pixel_is_covered(case):
    width, height, tile, overlap = case
    covered = np.zeros((height, width), dtype=np.int32)
    for w in make_grid(width, height, tile, overlap):
        covered[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] += 1
    assert covered.min() >= 1


@settings(max_examples=200, deadline=None)
@given(tilings())
def test_windows_stay_inside_except_along_a_short_axis(case):
    width, height, tile, overlap = case
    windows = make_grid(width, height, tile, overlap)
    for w in windows:
        assert (w.width, w.height) == (tile, tile)
        assert w.col_off >= 0 and w.row_off >= 0
        if width >= tile:
            assert w.col_off + w.width <= width
        else:  # one padded window along this axis
            assert w.col_off == 0
        if height >= tile:
            assert w.row_off + w.height <= height
        else:
            assert w.row_off == 0


@settings(max_examples=200, deadline=None)
@given(tilings())
def test_neighbours_overlap_by_at_least_overlap_and_count_matches(case):
    width, height, tile, overlap = case
    windows = make_grid(width, height, tile, overlap)
    stride = tile - overlap
    cols = sorted({w.col_off for w in windows})
    rows = sorted({w.row_off for w in windows})
    assert len(windows) == len(cols) * len(rows)
    for offsets, size in ((cols, width), (rows, height)):
        expected = 1 if size <= tile else math.ceil((size - tile) / stride) + 1
        assert len(offsets) == expected
        for a, b in zip(offsets, offsets[1:], strict=False):
            assert tile - (b - a) >= overlap  # shared pixels
            assert b - a <= stride  # regular stride, last one shifted inward


@settings(max_examples=100, deadline=None)
@given(tilings())
def test_row_major_order(case):
    windows = make_grid(*case)
    keys = [(w.row_off, w.col_off) for w in windows]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_small_raster_gets_one_padded_window():
    (window,) = make_grid(100, 60, 512, 128)
    assert (window.col_off, window.row_off, window.width, window.height) == (0, 0, 512, 512)


def test_exact_fit_and_one_pixel_more():
    assert [w.col_off for w in make_grid(512, 512, 512, 128)] == [0]
    assert sorted({w.col_off for w in make_grid(513, 512, 512, 128)}) == [0, 1]
    assert sorted({w.col_off for w in make_grid(1280, 10, 512, 128)}) == [0, 384, 768]


def test_one_pixel_raster_and_zero_overlap():
    assert len(make_grid(1, 1, 1, 0)) == 1
    assert [w.col_off for w in make_grid(10, 1, 5, 0)] == [0, 5]


@pytest.mark.parametrize(
    ("tile", "overlap", "needle"),
    [
        (0, 0, "tile size"),
        (-4, 0, "tile size"),
        (64, 64, "overlap"),
        (64, -1, "overlap"),
        (64, 100, "overlap"),
        (64.0, 8, "whole number"),
    ],
)
def test_bad_tiling_is_a_usage_error(tile, overlap, needle):
    with pytest.raises(UsageError, match=needle) as info:
        make_grid(100, 100, tile, overlap)
    assert str(overlap if needle == "overlap" else tile) in str(info.value)


def test_empty_raster_is_refused():
    with pytest.raises(UsageError, match="0x5"):
        make_grid(0, 5, 4, 1)
