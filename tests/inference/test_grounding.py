"""Coarse pass helpers: when it runs, candidate regions, and which fine windows they select."""

from __future__ import annotations

import numpy as np
from affine import Affine
from rasterio.windows import Window

from geocrobim.inference.grounding import (
    MIN_PEAK,
    CoarseGrid,
    CoarseMap,
    candidates,
    plan_coarse,
    select_windows,
)
from geocrobim.inference.read_plan import plan_reading
from geocrobim.raster import make_grid


def test_coarse_view_squeezes_the_scene_into_one_double_tile():
    plan = plan_reading(tile=64, overlap=16, source_gsd=0.5, model_gsd=None)
    grid = plan_coarse(6400, 3200, plan)
    assert grid is not None
    assert grid.factor == 50 and (grid.width, grid.height) == (128, 64)
    assert grid.tile == 128 and len(grid.windows) == 1  # the whole scene in one model call
    assert grid.source_window(grid.windows[0]) == Window(0, 0, 128 * 50, 128 * 50)
    assert grid.transform(Affine(0.5, 0, 100, 0, -0.5, 200)) == Affine(25, 0, 100, 0, -25, 200)


def test_no_coarse_pass_for_scenes_a_few_windows_wide():
    plan = plan_reading(tile=64, overlap=16, source_gsd=0.5, model_gsd=None)
    assert plan_coarse(120, 90, plan) is None  # two windows wide: one coarse window would be finer
    assert plan_coarse(200, 150, plan) is not None


def test_coarse_gsd_stays_inside_the_training_range():
    plan = plan_reading(tile=64, overlap=16, source_gsd=1.0, model_gsd=None)
    grid = plan_coarse(100_000, 100_000, plan)
    assert grid is not None and grid.factor == 30.0  # 30 m, not 100000 / 128 m
    assert grid.width == 3334 and len(grid.windows) > 4 and grid.overlap == 32


def test_candidates_use_the_threshold_or_a_fraction_of_the_peak():
    coarse = np.zeros((3, 4, 4), dtype=np.float32)
    coarse[0, 1, 1], coarse[0, 2, 2] = 0.9, 0.46  # 0.46 >= min(0.5, 0.45)
    coarse[1, 0, 0], coarse[1, 3, 3] = 0.3, 0.14  # weak peak: cut at 0.15
    coarse[2] = MIN_PEAK / 2  # nothing
    found = candidates(coarse)
    assert found[0].sum() == 2 and found[0, 1, 1] and found[0, 2, 2]
    assert found[1].sum() == 1 and found[1, 0, 0]
    assert not found[2].any()


def test_fine_windows_near_a_candidate_are_selected():
    grid = CoarseGrid(factor=10.0, width=20, height=20, tile=16, windows=[])
    candidate = np.zeros((20, 20), dtype=bool)
    candidate[5, 5] = True  # source pixels 50..60
    windows = make_grid(200, 200, 32, 0)  # 7 x 7 windows (last ones shifted in)
    chosen = select_windows(windows, candidate, grid, margin=0)
    assert [(windows[i].col_off, windows[i].row_off) for i in chosen] == [(32, 32)]
    wider = select_windows(windows, candidate, grid, margin=16)
    assert len(wider) == 4 and set(chosen) < set(wider)
    assert select_windows(windows, np.zeros_like(candidate), grid, margin=100) == []


def test_coarse_map_blends_and_ignores_invalid_pixels():
    grid = CoarseGrid(factor=4.0, width=40, height=20, tile=16, windows=make_grid(40, 20, 16, 4), overlap=4)
    blend = CoarseMap(grid, expressions=2)
    probs = np.full((len(grid.windows), 2, 16, 16), 0.25, dtype=np.float32)
    probs[:, 1] = 0.75
    valid = np.ones((len(grid.windows), 16, 16), dtype=bool)
    valid[0, :, :8] = False  # the first window's left half holds no data
    blend.add(list(range(len(grid.windows))), probs, valid)
    out = blend.probabilities()
    assert out.shape == (2, 20, 40)
    assert np.allclose(out[0, :, 8:], 0.25) and np.allclose(out[1, :, 8:], 0.75)
    assert (out[:, :4, :8] == 0).all()  # only the first window covers these pixels, and not validly
    assert np.allclose(out[0, 4:, :8], 0.25)  # the second row of windows (shifted in to row 4) covers the rest
