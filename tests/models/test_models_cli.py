"""``geocrobim models``: presets with parameter counts and the default checkpoint, honestly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from geocrobim.cli import models as models_cli
from geocrobim.cli.main import cli
from geocrobim.models import count_parameters


def test_lists_presets_with_counts_and_no_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("geocrobim.models.checkpoint.DEFAULT_CHECKPOINT_DIR", tmp_path / "absent")
    result = CliRunner().invoke(cli, ["models", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    counts = {p["name"]: p["parameters"] for p in info["presets"]}
    assert counts["crobim_test"] == count_parameters("crobim_test")
    assert 200e6 <= counts["crobim_swin_b"] <= 300e6
    assert info["default_checkpoint"]["shipped"] is False
    text = CliRunner().invoke(cli, ["models"])
    assert text.exit_code == 0 and "crobim_swin_b" in text.output and "none shipped" in text.output


def test_reports_the_shipped_checkpoint_metadata(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, checkpoint_dir: Path
) -> None:
    default = tmp_path / "default"
    shutil.copytree(checkpoint_dir, default)
    meta = {"model_id": "geo-small-v1", "trained_on": "RRSIS-D train", "gsd_m": 0.5, "metrics": {"mIoU": 0.41}}
    (default / "metadata.json").write_text(json.dumps(meta))
    monkeypatch.setattr("geocrobim.models.checkpoint.DEFAULT_CHECKPOINT_DIR", default)
    info = models_cli.collect()["default_checkpoint"]
    assert info["shipped"] and info["metadata"] == meta
    rendered = models_cli.render(models_cli.collect())
    assert "RRSIS-D train" in rendered and "mIoU=0.41" in rendered and "0.5 m" in rendered
