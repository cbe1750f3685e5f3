"""``geocrobim batch`` errors: one line, the right exit code, nothing written; and no torch on import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from batch_helpers import EXPR, SCENE_IDS, batch_args, invoke


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def assert_one_line_error(result, code: int, fragment: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        (["--resume", "--overwrite"], 2, "pass one of the two"),
        (["--address", "127.0.0.1:6379"], 2, "--address is for --executor ray"),
        (["--workers", "0"], 2, "--workers 0"),
        (["--dst-crs", "EPSG:nope"], 2, "--dst-crs 'EPSG:nope' is not a CRS"),
        (["--retries", "-1"], 2, "--retries -1"),
        (["--shard", "2/2"], 2, "0 <= I < N"),
        (["--format", "kml"], 2, "kml"),
        (["--tile-size", "0"], 2, "--tile-size 0"),
        (["--range", "3000,0"], 2, "--range 0,3000"),
        pytest.param(["--device", "cuda"], 2, "--device cpu",
                     marks=pytest.mark.skipif(_cuda_available(), reason="this machine has CUDA")),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(archive, checkpoint, tmp_path, extra, code, fragment):
    result = invoke(*batch_args(archive, tmp_path / "out", checkpoint, *extra))
    if fragment == "kml":  # click refuses it before our code runs
        assert result.exit_code == 2 and "kml" in result.output
    else:
        assert_one_line_error(result, code, fragment)
    assert not (tmp_path / "out" / "ledger.jsonl").exists()
    if extra[0] in ("--tile-size", "--range", "--device"):  # checked before the output folder is made
        assert not (tmp_path / "out").exists()


def test_a_sentence_given_as_an_input_points_to_e(archive, checkpoint, tmp_path):
    result = invoke("batch", str(archive), "the large pond", "-o", str(tmp_path / "out"), "--checkpoint", str(checkpoint))
    assert_one_line_error(result, 1, "expressions go with -e, e.g. -e 'the large pond'")


def test_missing_input_and_checkpoint_are_one_line_errors(archive, checkpoint, tmp_path):
    assert_one_line_error(invoke(*batch_args(tmp_path / "nope", tmp_path / "out", checkpoint)), 1, "not found")
    assert_one_line_error(invoke(*batch_args(archive, tmp_path / "out", tmp_path / "no-model")), 1, "checkpoint")
    assert not (tmp_path / "out" / "ledger.jsonl").exists()


def test_ray_executor_without_ray_says_how_to_install_it(archive, checkpoint, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    result = invoke(*batch_args(archive, tmp_path / "out", checkpoint, "--executor", "ray"))
    assert_one_line_error(result, 1, "pip install 'geocrobim[ray]'")
    assert not (tmp_path / "out" / "ledger.jsonl").exists()


def test_dry_run_lists_the_plan(archive, checkpoint, tmp_path):
    result = invoke(*batch_args(archive, tmp_path / "out", checkpoint, "--dry-run"))
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert [i["scene_id"] for i in plan["items"]] == SCENE_IDS and plan["to_run"] == 6
    assert all(i["action"] == "run" and i["expressions"] == [EXPR] for i in plan["items"])


def test_importing_the_batch_package_and_command_needs_no_torch():
    code = (
        "import sys, geocrobim.batch, geocrobim.cli.batch, geocrobim.batch.executors.pool, "
        "geocrobim.batch.executors.ray_cluster\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'timm', 'transformers', 'ray')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
