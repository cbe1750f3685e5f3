"""blend_weights: strictly positive, symmetric, 1 inside, a smooth ramp across the overlap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geocrobim.errors import UsageError
from geocrobim.raster import blend_weights


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300).flatmap(lambda t: st.tuples(st.just(t), st.integers(0, t - 1))))
def test_positive_symmetric_and_bounded(case):
    tile, overlap = case
    w = blend_weights(tile, overlap)
    assert w.shape == (tile, tile) and w.dtype == np.float32
    assert np.all(w > 0) and np.all(w <= 1)
    np.testing.assert_array_equal(w, w[::-1, :])
    np.testing.assert_array_equal(w, w[:, ::-1])
    np.testing.assert_array_equal(w, w.T)


def test_interior_is_one_and_ramp_rises_smoothly():
    tile, overlap = 64, 16
    w = blend_weights(tile, overlap)
    np.testing.assert_array_equal(w[overlap:-overlap, overlap:-overlap], 1.0)
    ramp = w[tile // 2, :overlap]
    assert np.all(np.diff(ramp) > 0)
    # Smooth: no jump bigger than the raised cosine's steepest step (pi/2/overlap).
    assert np.max(np.diff(ramp)) <= np.pi / 2 / overlap + 1e-6
    assert ramp[0] < 0.01


def test_no_overlap_means_uniform_weights():
    np.testing.assert_array_equal(blend_weights(32, 0), np.ones((32, 32), dtype=np.float32))


def test_bad_arguments():
    with pytest.raises(UsageError, match="overlap"):
        blend_weights(32, 32)
