"""The reading plan: GSD choice, window footprint in source pixels, tile/overlap validation."""

from __future__ import annotations

import logging

import pytest

from geocrobim.errors import UsageError
from geocrobim.inference.read_plan import MAX_TILE, plan_reading, validate_tiling


def test_default_overlap_is_a_quarter_tile_rounded_up():
    assert validate_tiling(480, None) == (480, 120)
    assert validate_tiling(65, None) == (65, 17)
    assert validate_tiling(64, 0) == (64, 0)


@pytest.mark.parametrize(
    ("tile", "overlap", "message"),
    [
        (0, None, "tile size"),
        (-64, 8, "tile size"),
        (8, 2, "out of range"),
        (MAX_TILE + 1, 8, "out of range"),
        (64, -1, "overlap"),
        (64, 64, "overlap"),
        (64, 100, "overlap"),
        (64.5, 8, "tile size"),
        (True, 8, "tile size"),
    ],
)
def test_tile_and_overlap_nonsense_is_a_usage_error(tile, overlap, message):
    with pytest.raises(UsageError, match=message):
        validate_tiling(tile, overlap)


def test_a_finer_source_is_read_at_the_model_gsd():
    plan = plan_reading(tile=480, overlap=None, source_gsd=0.25, model_gsd=1.0)
    assert plan.reading_gsd_m == 1.0 and plan.footprint == 1920 and plan.source_overlap == 480
    assert plan.resampled


def test_a_coarser_source_is_read_as_it_is():
    plan = plan_reading(tile=480, overlap=None, source_gsd=10.0, model_gsd=1.0)
    assert plan.reading_gsd_m == 10.0 and plan.footprint == 480 and not plan.resampled


def test_an_explicit_gsd_wins_even_when_it_upsamples(caplog):
    plan = plan_reading(tile=100, overlap=20, source_gsd=2.0, model_gsd=0.5, gsd=1.0)
    assert plan.footprint == 50 and plan.source_overlap == 10
    with caplog.at_level(logging.WARNING, logger="geocrobim"):
        plan = plan_reading(tile=100, overlap=20, source_gsd=30.0, model_gsd=None, gsd=0.5)
    assert plan.footprint == 2 and "upsamples" in caplog.text


def test_unknown_model_gsd_reads_at_the_source_gsd():
    plan = plan_reading(tile=64, overlap=16, source_gsd=0.3, model_gsd=None)
    assert (plan.footprint, plan.source_overlap, plan.reading_gsd_m) == (64, 16, 0.3)


def test_without_crs_the_gsd_is_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="geocrobim"):
        plan = plan_reading(tile=64, overlap=16, source_gsd=None, model_gsd=0.5, gsd=2.0)
    assert plan.footprint == 64 and plan.reading_gsd_m is None
    assert "no CRS" in caplog.text


@pytest.mark.parametrize("gsd", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_gsd_is_a_usage_error(gsd):
    with pytest.raises(UsageError, match="--gsd"):
        plan_reading(tile=64, overlap=16, source_gsd=0.5, model_gsd=None, gsd=gsd)


def test_plan_summary_is_json_ready():
    summary = plan_reading(tile=64, overlap=16, source_gsd=0.5, model_gsd=1.0).to_dict()
    assert summary == {
        "tile_size": 64, "overlap": 16, "footprint_px": 128, "source_gsd_m": 0.5, "reading_gsd_m": 1.0,
    }
