"""Score calibration: the logistic fit, the calibration error, and the metadata round trip."""

from __future__ import annotations

import numpy as np
import pytest

from geocrobim.inference.calibration import (
    ScoreCalibration,
    calibration_key,
    expected_calibration_error,
    fit_calibration,
    fit_logistic,
    logit,
    reliability,
    sigmoid,
)


def _draw(rng: np.random.Generator, n: int, weights: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """Fine/coarse means whose referent labels follow a known logistic law of their product."""
    fine, coarse = rng.uniform(0.02, 0.98, n), rng.uniform(0.02, 0.98, n)
    p = sigmoid(weights[0] + weights[1] * logit(fine * coarse))
    return fine, coarse, (rng.random(n) < p).astype(float)


def test_fit_recovers_a_known_logistic_law() -> None:
    fine, coarse, labels = _draw(np.random.default_rng(0), 20_000, (-2.0, 1.5))
    w = fit_logistic(np.column_stack([logit(fine), logit(coarse)]), labels, l2=0.0)
    assert w[1] > 0.5 and w[2] > 0.5  # both factors carry evidence
    w = fit_logistic(logit(fine * coarse)[:, None], labels, l2=0.0)
    assert w == pytest.approx([-2.0, 1.5], abs=0.1)


def test_calibration_lowers_the_error_of_overconfident_scores() -> None:
    rng = np.random.default_rng(1)
    fine, coarse, labels = _draw(rng, 4000, (-3.0, 0.8))  # referents are rare, raw products are not
    raw = fine * coarse
    calibration = fit_calibration(fine[:2000], coarse[:2000], labels[:2000], threshold=0.5)
    calibrated = calibration.probability(fine[2000:], coarse[2000:])
    assert expected_calibration_error(raw[2000:], labels[2000:]) > 0.15
    assert expected_calibration_error(calibrated, labels[2000:]) < 0.05
    order = np.argsort(raw[2000:])
    assert (np.diff(calibrated[order]) >= 0).all()  # increasing: the best instance stays the best
    rows = reliability(calibrated, labels[2000:])
    assert sum(r["count"] for r in rows) == 2000 and all(0 <= r["observed"] <= 1 for r in rows)


def test_ece_of_exact_probabilities_is_small_and_of_constant_ones_is_the_gap() -> None:
    rng = np.random.default_rng(2)
    p = rng.random(50_000)
    assert expected_calibration_error(p, rng.random(50_000) < p) < 0.01
    labels = np.zeros(100)
    labels[:30] = 1
    assert expected_calibration_error(np.full(100, 0.9), labels) == pytest.approx(0.6)


def test_metadata_round_trip_and_the_fine_only_map() -> None:
    calibration = ScoreCalibration((-1.0, 2.0), (-0.5, 1.0), 0.4, {"samples": 10})
    again = ScoreCalibration.from_metadata({"calibration": calibration.to_metadata()})
    assert again == calibration
    assert ScoreCalibration.from_metadata({"gsd_m": 1.0}) is None
    fine = np.array([0.5, 0.9])
    with_coarse = calibration.probability(fine, np.array([0.5, 0.8]))
    assert with_coarse == pytest.approx(sigmoid(-1.0 + 2.0 * logit(fine * np.array([0.5, 0.8]))))
    assert calibration.probability(fine, np.full(2, np.nan)) == pytest.approx(sigmoid(-0.5 + logit(fine)))
    assert calibration.probability(np.array([1.0]), None)[0] < 1.0  # a saturated mean is clipped, not infinite


def test_each_reading_has_its_own_map_and_a_reading_without_one_has_none() -> None:
    ensemble = ScoreCalibration((-1.5, 0.4), (-6.5, 1.9), 0.5, {"samples": 10})
    one_pass = ScoreCalibration((-2.0, 0.6), (-5.0, 1.5), 0.5, {"samples": 12})
    metadata = {"tta": True, "calibration": ensemble.to_metadata(), "calibration_no_tta": one_pass.to_metadata()}
    assert calibration_key(metadata, None) == calibration_key(metadata, True) == "calibration"
    assert calibration_key(metadata, False) == "calibration_no_tta"
    assert calibration_key({"tta": False}, True) == "calibration_tta"
    assert ScoreCalibration.from_metadata(metadata) == ScoreCalibration.from_metadata(metadata, tta=True) == ensemble
    assert ScoreCalibration.from_metadata(metadata, tta=False) == one_pass
    del metadata["calibration_no_tta"]
    assert ScoreCalibration.from_metadata(metadata, tta=False) is None  # the ensemble's map does not fit one pass
    assert ScoreCalibration.from_metadata({"calibration": one_pass.to_metadata()}, tta=False) == one_pass  # no tta key: one pass
