"""Calibrated scores and "not found" through the real CLI, with a checkpoint's stored calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from geocrobim.cli.main import cli
from geocrobim.inference.calibration import ScoreCalibration

EXPR = "the bright square"


def _checkpoint(path: Path, intercept: float) -> Path:
    """The tiny test model with a calibration whose intercept decides everything."""
    from geocrobim.models.testing import make_test_checkpoint

    calibration = ScoreCalibration((intercept, 0.0), (intercept, 0.0), 0.5, {"samples": 0})
    return make_test_checkpoint(path, metadata={"calibration": calibration.to_metadata()})


@pytest.fixture
def scene(geotiff) -> Path:
    data = np.full((3, 96, 112), 60, dtype=np.uint8)
    data[:, 30:60, 40:80] = 230
    return geotiff(data, transform=(0.5, 0.0, 500000.0, 0.0, -0.5, 4100000.0))


def _run(scene: Path, checkpoint: Path, out: Path, *extra: str) -> object:
    return CliRunner().invoke(cli, ["segment", str(scene), EXPR, "-o", str(out), "--checkpoint", str(checkpoint), *extra], obj={})


def test_under_the_threshold_the_answer_is_not_found(scene: Path, tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path / "never", intercept=-6.0)  # every instance: p = 0.0025
    result = _run(scene, checkpoint, tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.stdout)["expressions"]
    assert item["components"] > 0  # the model did find candidates: the calibration rejected them
    assert item["found"] is False and item["instances"] == 0 and item["area_m2"] == 0
    assert item["score"] == pytest.approx(1 / (1 + np.exp(6.0)), abs=1e-6)  # the best candidate's, reported
    assert item["note"].startswith("not found: the best candidate (score 0.00, at 5000")  # its place, in the CRS
    assert "under the threshold 0.50" in item["note"] and "--min-score 0 writes it" in item["note"]
    with rasterio.open(item["outputs"]["mask"]) as mask:
        assert mask.crs.to_epsg() == 32633 and not (mask.read(1) == 1).any()
    import pyogrio

    assert pyogrio.read_info(item["outputs"]["vector"], layer=Path(item["outputs"]["vector"]).stem)["features"] == 0
    human = _run(scene, checkpoint, tmp_path / "human", "--overwrite")
    assert human.exit_code == 0 and human.stderr.strip().splitlines()[-1].startswith(f"{EXPR!r}: not found:")
    anyway = _run(scene, checkpoint, tmp_path / "anyway", "--json", "--min-score", "0")
    (best,) = json.loads(anyway.stdout)["expressions"]
    assert best["found"] and best["instances"] == 1 and best["score"] == item["score"]


def test_over_the_threshold_the_score_is_the_calibrated_probability(scene: Path, tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path / "always", intercept=3.0)
    result = _run(scene, checkpoint, tmp_path / "out", "--json", "--instances", "all")
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.stdout)["expressions"]
    assert item["found"] is True and item["instances"] == item["components"] > 0
    assert item["score"] == pytest.approx(1 / (1 + np.exp(-3.0)), abs=1e-6) and item["note"] is None
    with rasterio.open(item["outputs"]["mask"]) as mask:
        assert (mask.read(1) == 1).any()
    assert ScoreCalibration.from_metadata(json.loads((checkpoint / "metadata.json").read_text())) is not None


def test_a_reading_uses_its_own_map_and_without_one_says_its_scores_are_raw(scene: Path, tmp_path: Path) -> None:
    from geocrobim.models.testing import make_test_checkpoint

    never = ScoreCalibration((-6.0, 0.0), (-6.0, 0.0), 0.5, {"samples": 0}).to_metadata()  # the ensemble's map
    one_pass = ScoreCalibration((3.0, 0.0), (3.0, 0.0), 0.5, {"samples": 0}).to_metadata()
    checkpoint = make_test_checkpoint(tmp_path / "both", metadata={"tta": True, "calibration": never, "calibration_no_tta": one_pass})
    result = _run(scene, checkpoint, tmp_path / "one-pass", "--json", "--no-tta")
    (item,) = json.loads(result.stdout)["expressions"]
    assert item["found"] and item["score"] == pytest.approx(1 / (1 + np.exp(-3.0)), abs=1e-6)  # the one-pass map
    assert not [w for w in json.loads(result.stdout)["warnings"] if "calibration" in w]
    # Only the ensemble's map: a one-pass run keeps raw scores, answers, and says why in one warning.
    only = make_test_checkpoint(tmp_path / "only", metadata={"tta": True, "calibration": never})
    raw = _run(scene, only, tmp_path / "raw", "--json", "--no-tta")
    (item,) = json.loads(raw.stdout)["expressions"]
    assert item["found"] and 0.0 < item["score"] < 1.0 and item["score"] != pytest.approx(1 / (1 + np.exp(6.0)), abs=1e-6)
    (line,) = [w for w in json.loads(raw.stdout)["warnings"] if "calibration" in w]
    assert "fitted on the reading with the flip ensemble" in line and "geocrobim calibrate --no-tta" in line
