"""Burning polygonised components back: exact against rasterio's rasteriser and the mask itself."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio import features
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from geocrobim.inference.labels import Edges
from geocrobim.vector import polygonize

TRANSFORM = Affine(0.5, 0.0, 480_000.0, 0.0, -0.5, 5_120_000.0)


def components(mask: np.ndarray) -> np.ndarray:
    """Polygons of a bool mask's 4-connected components (through the real polygoniser)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mask.tif"
        with rasterio.open(path, "w", driver="GTiff", width=mask.shape[1], height=mask.shape[0], count=1,
                           dtype="uint8", crs="EPSG:32633", transform=TRANSFORM) as dst:
            dst.write(mask.astype(np.uint8), 1)
        return polygonize(path, workers=1, block_size=16).geometry.values


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    density=st.floats(0.2, 0.8),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    window=st.tuples(st.integers(0, 39), st.integers(0, 39), st.integers(1, 40), st.integers(1, 40)),
)
def test_labels_match_rasterio_and_the_mask(seed, density, shape, window):
    mask = np.random.default_rng(seed).random(shape) < density  # speckle: holes, islands in holes
    geoms = components(mask)
    edges = Edges.from_geometries(geoms, TRANSFORM)
    col, row, width, height = window
    win = Window(min(col, shape[1] - 1), min(row, shape[0] - 1), width, height)
    win = Window(win.col_off, win.row_off, min(width, shape[1] - win.col_off), min(height, shape[0] - win.row_off))
    labels = edges.window(win)
    sub = mask[int(win.row_off) : int(win.row_off + win.height), int(win.col_off) : int(win.col_off + win.width)]
    np.testing.assert_array_equal(labels > 0, sub)
    if len(geoms):
        expected = features.rasterize(
            ((g, i + 1) for i, g in enumerate(geoms)), out_shape=sub.shape, transform=window_transform(win, TRANSFORM),
            dtype="int32",
        )
        np.testing.assert_array_equal(labels, expected)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    density=st.floats(0.2, 0.8),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 40)),
)
def test_runs_paint_exactly_the_labels(seed, density, shape):
    mask = np.random.default_rng(seed).random(shape) < density  # speckle: holes, islands in holes
    edges = Edges.from_geometries(components(mask), TRANSFORM)
    row, x0, x1, label = edges.spans()
    painted = np.zeros(shape, dtype=np.int64)
    for r, a, b, k in zip(row, x0, x1, label, strict=True):
        assert not painted[r, a:b].any()  # runs never overlap
        painted[r, a:b] = k
    np.testing.assert_array_equal(painted, edges.window(Window(0, 0, shape[1], shape[0])))
    assert np.all(np.diff(row) >= 0)  # sorted by row (fine_means reads row bands in order)


def test_no_geometries_give_an_empty_label_raster():
    edges = Edges.from_geometries(np.array([], dtype=object), TRANSFORM)
    assert not edges.window(Window(0, 0, 5, 4)).any()
    assert all(len(a) == 0 for a in edges.spans())


def test_multipolygons_and_a_rotated_grid():
    transform = Affine.rotation(30) @ Affine.scale(2.0, -2.0)
    squares = [shapely.box(0, 0, 2, 2), shapely.box(4, 1, 6, 3), shapely.box(0, 5, 3, 6)]
    multi = shapely.MultiPolygon(squares[:2])
    in_map = shapely.transform(
        np.array([multi, squares[2]], dtype=object), lambda xy: np.column_stack(transform @ (xy[:, 0], xy[:, 1]))
    )
    labels = Edges.from_geometries(in_map, transform).window(Window(0, 0, 7, 7))
    expected = np.zeros((7, 7), dtype=np.int32)
    expected[0:2, 0:2] = expected[1:3, 4:6] = 1
    expected[5, 0:3] = 2
    np.testing.assert_array_equal(labels, expected)
