"""Fitting a checkpoint's calibration on generated scenes (``geocrobim calibrate``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from geocrobim.cli.main import cli
from geocrobim.inference.calibration import ScoreCalibration
from geocrobim.training.calibration import absent_expressions


def test_absent_expressions_name_nothing_the_scene_holds() -> None:
    objects = [
        {"category": "warehouse", "colour": "red"},
        {"category": "storage tank", "colour": "white"},
        {"category": "river", "colour": None},
    ]
    picked = absent_expressions(objects, 40, np.random.default_rng(0))
    assert "the red warehouse" not in picked and "the white storage tank" not in picked and "the river" not in picked
    assert "the blue warehouse" in picked and "the roundabout" in picked and "the ship" in picked
    assert absent_expressions(objects, 3, np.random.default_rng(1)) == absent_expressions(objects, 3, np.random.default_rng(1))
    assert len(absent_expressions(objects, 3, np.random.default_rng(1))) == 3


def test_calibrate_writes_the_map_and_reports_held_out_figures(tmp_path: Path) -> None:
    from geocrobim.models.testing import make_test_checkpoint

    checkpoint = make_test_checkpoint(tmp_path / "ckpt")
    argv = ["-q", "calibrate", str(checkpoint), "--scenes", "2", "--size", "256", "--seed0", "9000", "--json"]
    result = CliRunner().invoke(cli, argv, obj={})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    held = report["held_out"]
    assert held["fit_scenes"] == 1 and held["test_scenes"] == 1 and 0 <= held["ece"] <= 1
    from geocrobim.data.synthetic import write_scene

    held_out_scene = write_scene(tmp_path / "again.tif", size=256, gsd=0.5, seed=9001, expressions=4)  # the test half
    present = len(held_out_scene["expressions"])  # small scenes have fewer distinct referents than asked
    assert sum(held[k] for k in ("present_found_right", "present_found_wrong", "present_not_found")) == present
    assert held["absent_found"] + held["absent_not_found"] == 2
    metadata = json.loads((checkpoint / "metadata.json").read_text())
    stored = ScoreCalibration.from_metadata(metadata)
    assert stored is not None and stored.threshold == 0.5 and stored.stats["samples"] == report["calibration"]["samples"] > 0
    assert metadata["model_id"] == "crobim_test-test-seed0"  # the rest of the metadata is kept
    dry = CliRunner().invoke(cli, ["-q", "calibrate", str(checkpoint), "--scenes", "2", "--size", "256", "--dry-run",
                                   "--threshold", "0.3"], obj={})  # fmt: skip
    assert dry.exit_code == 0 and ScoreCalibration.from_metadata(json.loads((checkpoint / "metadata.json").read_text())).threshold == 0.5


def test_a_map_for_the_other_reading_is_stored_beside_the_default_one(tmp_path: Path) -> None:
    from geocrobim.models.testing import make_test_checkpoint

    checkpoint = make_test_checkpoint(tmp_path / "ckpt")  # its metadata asks for one pass (no "tta")
    argv = ["-q", "calibrate", str(checkpoint), "--scenes", "2", "--size", "256", "--json"]
    plain = CliRunner().invoke(cli, argv, obj={})
    ensemble = CliRunner().invoke(cli, [*argv, "--tta"], obj={})
    assert plain.exit_code == 0 and ensemble.exit_code == 0, plain.output + ensemble.output
    assert json.loads(plain.stdout)["key"] == "calibration" and json.loads(ensemble.stdout)["key"] == "calibration_tta"
    metadata = json.loads((checkpoint / "metadata.json").read_text())
    assert "flip ensemble" in metadata["calibration_tta"]["fitted_on"] and "one pass" in metadata["calibration"]["fitted_on"]
    assert ScoreCalibration.from_metadata(metadata, tta=True) != ScoreCalibration.from_metadata(metadata, tta=False)
