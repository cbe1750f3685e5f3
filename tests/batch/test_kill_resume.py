"""A batch killed with SIGKILL mid-way, then resumed, ends exactly as an uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from batch_helpers import DST_CRS, batch_args, item_records, masks_of, result_files, temp_leftovers


def _ok_records(out: Path) -> int:
    path = out / "ledger.jsonl"
    if not path.exists():
        return 0
    return sum('"status": "ok"' in line for line in path.read_text().splitlines())


def test_sigkill_then_resume_gives_the_uninterrupted_outputs(reference, archive, checkpoint, tmp_path):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "geocrobim.cli.main", "-q", *map(str, batch_args(archive, out, checkpoint))]
    argv += ["--dst-crs", DST_CRS]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while _ok_records(out) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.kill()  # SIGKILL: no cleanup of any kind
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -9, stderr.decode()[-2000:]
    done = _ok_records(out)
    assert 2 <= done < 6  # killed mid-way
    assert not (out / "merged").exists()

    resumed = subprocess.run([*argv, "--resume", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    assert (summary["skipped"], summary["ok"], summary["failed"]) == (done, 6 - done, 0)

    assert result_files(out) == result_files(reference["out"])
    assert temp_leftovers(out) == []
    expected = masks_of(reference["out"])
    actual = masks_of(out)
    assert actual.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
    vrt = "merged/the-white-building.epsg32633-0.5m.mask.vrt"
    assert (out / vrt).read_text() == (reference["out"] / vrt).read_text()
    ok = [r["scene_id"] for r in item_records(out) if r["status"] == "ok"]
    assert sorted(ok) == sorted(set(ok)) and len(ok) == 6  # each scene completed exactly once
