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


SCENES = ROOT / "tests" / "training" / "conf" / "scenes_tiny.yaml"


def test_scene_recipe_trains_exports_without_aux_heads_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(cli, ["train", "--config", str(SCENES)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "resume" / "last.ckpt").is_file()
    ckpt = load_checkpoint(tmp_path / "export")  # strict load: no dense/parse head weights in it
    assert ckpt.metadata["model_id"] == "crobim_test-scenes-tiny"
    assert ckpt.metadata["gsd_m"] == 0.75 and ckpt.metadata["gsd_range_m"] == [0.5, 1.0]
    assert set(ckpt.metadata["metrics"]["val"]) == {"oIoU", "mIoU", "P@0.5"}
    resumed = CliRunner().invoke(
        cli, ["train", "--config", str(SCENES), "--resume", "trainer.max_steps=3"], catch_exceptions=False
    )
    assert resumed.exit_code == 0, resumed.output
    meta = load_checkpoint(tmp_path / "export").metadata["training"]
    assert meta["global_step"] == 3  # continued from step 2, not restarted


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import torch

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "geocrobim.training.fit", "--config", str(SCENES), "trainer.max_steps=1000",
               "trainer.val_check_interval=1000"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = tmp_path / "resume" / "last.ckpt"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (last.is_file() and _step(last) >= 2):
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    step = _step(last)
    assert step >= 2
    done = subprocess.run([*command[:-2], f"trainer.max_steps={step + 1}", "--resume"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == step + 1


def _step(path: Path) -> int:
    import torch

    for _ in range(5):  # the file may be mid-write
        try:
            return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])
        except Exception:  # noqa: BLE001 - a torn read of a file being replaced
            import time

            time.sleep(0.2)
    return -1


def test_a_step_budget_whose_last_steps_are_never_validated_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 5 steps, validation every 2: the export would keep step 4's weights and drop step 5's.
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["train", "--config", str(CONF), "trainer.max_steps=5", "trainer.val_check_interval=2"])
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "trainer.max_steps=5" in errors[0] and "trainer.max_steps=6" in errors[0], result.output
    assert "Traceback" not in result.output and not (tmp_path / "export").exists()


@pytest.mark.parametrize(
    ("max_steps", "interval", "refused"),
    [(1000, 300, True), (1200, 300, False), (-1, 300, False), (1000, 0.5, False), (None, 300, False), (2, 1, False)],
)
def test_check_last_step_validated(max_steps: object, interval: object, refused: bool) -> None:
    from geocrobim.errors import UsageError
    from geocrobim.training.export import check_last_step_validated

    if refused:
        with pytest.raises(UsageError, match="use e.g. trainer.max_steps=1200"):
            check_last_step_validated(max_steps, interval)
    else:
        check_last_step_validated(max_steps, interval)


def test_the_check_applies_only_when_the_export_keeps_the_best_validation(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from geocrobim.errors import UsageError
    from geocrobim.training import ExportCheckpoint

    trainer = SimpleNamespace(max_steps=1000, val_check_interval=300)
    with pytest.raises(UsageError, match="trainer.max_steps=1200"):
        ExportCheckpoint(str(tmp_path / "export")).on_fit_start(trainer, None)  # type: ignore[arg-type]
    # configs/finetune_refdata.yaml exports the last weights: any step budget keeps them.
    ExportCheckpoint(str(tmp_path / "export"), use_best=False).on_fit_start(trainer, None)  # type: ignore[arg-type]
