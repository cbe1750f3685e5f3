"""``geocrobim models``: presets with parameter counts and the default checkpoint, honestly."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from geocrobim.cli import models as models_cli
from geocrobim.cli.main import cli
from geocrobim.cli.models import human_count
from geocrobim.models import count_parameters, list_models
from geocrobim.models.registry import PRESET_PARAMETERS, preset_parameters


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


def test_lists_every_preset_quickly_without_building_a_model() -> None:
    # It took ~16 s (6.5 s of CPU) when every preset was built on the meta device, torch,
    # timm and transformers imported; now the counts are recorded and it costs what
    # `geocrobim --help` costs. CPU time holds on a busy machine; wall time where it is not.
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "geocrobim.cli.main", "models", "--json"],
                         capture_output=True, text=True, check=True, timeout=120)
    elapsed, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime) < 2
    if os.getloadavg()[0] < (os.cpu_count() or 1):
        assert elapsed < 3
    listed = {p["name"]: p["parameters"] for p in json.loads(run.stdout)["presets"]}
    assert listed == {name: count for name, (_, count) in PRESET_PARAMETERS.items()}
    assert set(listed) == set(list_models())
    probe = (
        "import sys; from geocrobim.cli.main import cli\n"
        "try:\n    cli(['-q', 'models'], standalone_mode=False)\n"
        "finally:\n    print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'timm', 'transformers'}))"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert shown.stdout.strip().splitlines()[-1] == "[]"
    assert "crobim_lite" in shown.stdout and human_count(listed["crobim_lite"]) in shown.stdout


def test_readme_parameter_counts_are_the_listed_ones() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    quoted = re.findall(r"(crobim_\w+)\W[^\n]{0,40}?(\d+(?:\.\d)? [Mk]) parameters", readme)
    assert {name for name, _ in quoted} >= {"crobim_lite", "crobim_swin_b"}, quoted
    for name, figure in quoted:
        assert figure == human_count(preset_parameters(name)), name
