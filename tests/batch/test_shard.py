"""``--shard``: parsing (explicit and from job-array variables) and a deterministic,
disjoint, complete split; two shard runs into one folder equal the whole run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import DST_CRS, SCENE_IDS, batch_args, invoke, item_records, masks_of, result_files
from hypothesis import given
from hypothesis import strategies as st

from geocrobim.batch import BatchItem, parse_shard, select_shard, shard_of
from geocrobim.errors import UsageError


def items(ids: list[str]) -> list[BatchItem]:
    return [BatchItem(Path(f"/data/{i}.tif"), ("x",), i) for i in ids]


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("0/4", {}, (0, 4)),
        ("3/4", {}, (3, 4)),
        ("8", {"AWS_BATCH_JOB_ARRAY_INDEX": "5"}, (5, 8)),
        ("8", {"JOB_COMPLETION_INDEX": "7"}, (7, 8)),
        ("auto", {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}, (3, 4)),
        # --array=1-4: SLURM ids are 1-based
        ("auto", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, (0, 4)),
        # --array=0-12:4 -> ids 0, 4, 8, 12
        ("4", {"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "4"}, (2, 4)),
        (None, {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, None),  # never implicit
    ],
)
def test_parse_shard(text, env, expected):
    assert parse_shard(text, env) == expected


@pytest.mark.parametrize(
    ("text", "env", "fragment"),
    [("4/4", {}, "0 <= I < N"), ("a/b", {}, "I/N"), ("0/0", {}, "0 <= I < N"), ("4", {}, "array index"),
     ("auto", {"AWS_BATCH_JOB_ARRAY_INDEX": "1"}, "SLURM"), ("-1/3", {}, "0 <= I < N")],
)
def test_bad_shards_are_usage_errors(text, env, fragment):
    with pytest.raises(UsageError, match=re.escape(fragment)):
        parse_shard(text, env)


@given(st.lists(st.text(min_size=1, max_size=20), unique=True, max_size=60), st.integers(1, 7))
def test_shards_are_disjoint_and_complete(ids, count):
    whole = items(ids)
    parts = [select_shard(whole, (i, count)) for i in range(count)]
    seen = [item.scene_id for part in parts for item in part]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


def test_adding_scenes_never_moves_a_scene_to_another_shard():
    before = {i: shard_of(i, 5) for i in (f"scene-{n}" for n in range(50))}
    grown = select_shard(items([f"scene-{n}" for n in range(80)]), (2, 5))
    assert {i.scene_id for i in grown} >= {s for s, k in before.items() if k == 2}
    assert shard_of("scene-7", 5) == before["scene-7"]


def test_dry_run_shards_union_to_the_whole(archive, checkpoint, tmp_path):
    listed = []
    for shard in ("0/2", "1/2"):
        result = invoke(*batch_args(archive, tmp_path / "out", checkpoint, "--dry-run", "--shard", shard))
        assert result.exit_code == 0, result.output
        listed.append([i["scene_id"] for i in json.loads(result.stdout)["items"]])
    assert not set(listed[0]) & set(listed[1]) and sorted(listed[0] + listed[1]) == SCENE_IDS
    assert listed[0] and listed[1]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # a dry run writes nothing


def test_two_shard_runs_equal_the_whole_run(reference, archive, checkpoint, tmp_path):
    out = tmp_path / "out"
    for shard in ("0/2", "1/2"):
        result = invoke(*batch_args(archive, out, checkpoint, "--shard", shard, "--json"))
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["merged"] == []  # a shard never merges
    ledgers = sorted(p.name for p in out.glob("ledger*.jsonl"))
    assert ledgers == ["ledger.shard-000-of-002.jsonl", "ledger.shard-001-of-002.jsonl"]
    done = [r["scene_id"] for name in ledgers for r in item_records(out, name)]
    assert sorted(done) == SCENE_IDS  # disjoint and complete
    merged = invoke(*batch_args(archive, out, checkpoint, "--merge-only", "--dst-crs", DST_CRS, "--json"))
    assert merged.exit_code == 0, merged.output
    assert [p["scenes"] for p in json.loads(merged.stdout)] == [5, 1]  # the 0.5 m scenes, the 1 m one
    assert result_files(out) == result_files(reference["out"])
    expected = masks_of(reference["out"])
    for name, mask in masks_of(out).items():
        np.testing.assert_array_equal(mask, expected[name], err_msg=name)
    # an unsharded --resume reads every shard's ledger: nothing left to do
    resumed = invoke(*batch_args(archive, out, checkpoint, "--resume", "--dry-run"))
    assert json.loads(resumed.stdout)["to_run"] == 0
