"""``geocrobim train`` through the real CLI: a fast_dev_run on tiny synthetic chips (CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from geocrobim.cli.main import cli
from geocrobim.models import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "tests" / "training" / "conf" / "synthetic_tiny.yaml"


def test_train_fast_dev_run_exports_a_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["train", "--config", str(CONF), "trainer.fast_dev_run=true", "--model.init_args.lr=2e-4", "--test"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    ckpt = load_checkpoint(tmp_path / "export")
    assert ckpt.config.image_size == 64 and ckpt.metadata["preset"] == "crobim_test"
    assert ckpt.metadata["model_id"] == "crobim_test-synthetic-tiny"
    assert ckpt.metadata["gsd_m"] == 0.75 and ckpt.metadata["gsd_range_m"] == [0.5, 1.0]
    assert set(ckpt.metadata["metrics"]["val"]) == {"oIoU", "mIoU", "P@0.5"}
    assert ckpt.metadata["training"]["precision"] == "32-true"  # CPU: fp32 chosen automatically
    # The --model.init_args.lr override reached the task; its hyperparameters are recorded.
    assert ckpt.metadata["training"]["task"]["lr"] == pytest.approx(2e-4)
    assert ckpt.metadata["training"]["task"]["class_weights"] == [0.9, 1.1]


@pytest.mark.parametrize("name", ["risbench", "rrsisd", "refsegrs", "synthetic_small"])
def test_shipped_configs_parse(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from geocrobim.training.fit import build_cli

    with pytest.raises(SystemExit) as exit_info:
        build_cli(["--config", str(ROOT / "configs" / f"{name}.yaml"), "--print_config"])
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"].endswith("ReferringSegmentationTask")
    if name != "synthetic_small":  # the paper recipes
        init = printed["model"]["init_args"]
        assert init["model"] == "crobim_swin_b" and init["lr"] == 3e-5 and init["weight_decay"] == 0.01
        assert printed["trainer"]["max_epochs"] == 40 and printed["data"]["init_args"]["batch_size"] == 8
        assert printed["data"]["init_args"]["image_size"] == 480
        assert init["max_tokens"] == {"risbench": 50, "rrsisd": 22, "refsegrs": 20}[name]


def test_train_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["train", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output
    bad = runner.invoke(cli, ["train", "--config", str(CONF), "--model.init_args.no_such_option=1"])
    assert bad.exit_code == 2


def test_python_module_entry_point_help() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "geocrobim.training.fit", "--help"], capture_output=True, text=True, check=True
    )
    assert "--config" in out.stdout and "--trainer.strategy" in out.stdout
