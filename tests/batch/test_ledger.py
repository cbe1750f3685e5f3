"""The ledger (single writer, durable lines, crash-tolerant reading) and the resume fingerprints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from geocrobim.batch import Ledger, latest_ok, read_records
from geocrobim.batch.fingerprint import QUICK_BYTES, file_fingerprint, model_fingerprint, options_hash, same_input
from geocrobim.errors import CheckpointError, InputNotFoundError, OutputError


def test_records_are_whole_lines_and_a_torn_line_is_skipped(tmp_path):
    path = tmp_path / "ledger.jsonl"
    with Ledger(path) as ledger:
        ledger.append({"type": "item", "scene_id": "a", "status": "ok", "finished": "2026-01-01T00:00:01"})
    with open(path, "a") as f:  # a crash in the middle of a write
        f.write('{"type": "item", "scene_id": "b", "sta')
    with Ledger(path) as ledger:
        ledger.append({"type": "item", "scene_id": "c", "status": "ok", "finished": "2026-01-01T00:00:02"})
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["scene_id"] == "c"
    assert [r["scene_id"] for r in read_records(tmp_path)] == ["a", "c"]


def test_a_second_writer_is_refused(tmp_path):
    with Ledger(tmp_path / "ledger.jsonl"):
        with pytest.raises(OutputError, match="in use by another geocrobim batch"):
            Ledger(tmp_path / "ledger.jsonl").__enter__()
    with Ledger(tmp_path / "ledger.jsonl") as ledger:  # released on exit
        ledger.append({"type": "run"})


def test_latest_ok_takes_the_newest_completed_record_across_ledgers(tmp_path):
    rows = {
        "ledger.shard-000-of-002.jsonl": [("a", "ok", "T2", 1), ("b", "failed", "T3", 2)],
        "ledger.shard-001-of-002.jsonl": [("a", "ok", "T1", 3), ("b", "ok", "T1", 4), ("a", "lost", "T9", 5)],
    }
    for name, records in rows.items():
        with Ledger(tmp_path / name) as ledger:
            for scene, status, finished, n in records:
                ledger.append({"type": "item", "scene_id": scene, "status": status, "finished": finished, "n": n})
    latest = latest_ok(read_records(tmp_path))
    assert {k: v["n"] for k, v in latest.items()} == {"a": 1, "b": 4}


def test_quick_hash_sees_header_and_tail_changes_not_mtime(tmp_path):
    path = tmp_path / "big.tif"
    data = bytearray(os.urandom(3 * QUICK_BYTES))
    path.write_bytes(data)
    first, full = file_fingerprint(path), file_fingerprint(path, "full")
    os.utime(path, (1, 1))
    assert file_fingerprint(path)["input_hash"] == first["input_hash"] and first["input_hash"].startswith("quick:")
    for offset in (10, len(data) - 10):
        changed = bytearray(data)
        changed[offset] ^= 0xFF
        path.write_bytes(changed)
        assert file_fingerprint(path)["input_hash"] != first["input_hash"]
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0xFF  # the middle: only the full hash sees it
    path.write_bytes(changed)
    assert file_fingerprint(path)["input_hash"] == first["input_hash"]
    assert file_fingerprint(path, "full")["input_hash"] != full["input_hash"] and full["input_hash"].startswith("full:")


def test_same_input_trusts_size_and_mtime_then_content(tmp_path):
    path = tmp_path / "a.tif"
    path.write_bytes(b"x" * 100)
    record = file_fingerprint(path)
    assert same_input(path, record)
    os.utime(path, (5, 5))  # touched (e.g. copied without -p): the content decides
    assert same_input(path, record)
    path.write_bytes(b"y" * 100)
    assert not same_input(path, record) and not same_input(tmp_path / "gone.tif", record)


def test_model_fingerprint_follows_the_weights(tmp_path):
    from geocrobim.models.testing import make_test_checkpoint

    one = make_test_checkpoint(tmp_path / "one", seed=0)
    two = make_test_checkpoint(tmp_path / "two", seed=1, metadata={"model_id": "crobim_test-test-seed0"})
    (id_one, hash_one), (id_two, hash_two) = model_fingerprint(one), model_fingerprint(two)
    assert id_one == id_two == "crobim_test-test-seed0" and hash_one != hash_two
    assert model_fingerprint(one / "model.safetensors") == (id_one, hash_one)
    with pytest.raises(InputNotFoundError):
        model_fingerprint(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="lacks config.json"):
        model_fingerprint(tmp_path / "empty")


def test_options_hash_covers_expressions_and_options():
    base = options_hash(["a", "b"], {"coarse": True, "min_area": 0.0})
    assert base == options_hash(["a", "b"], {"min_area": 0.0, "coarse": True})
    assert base != options_hash(["b", "a"], {"coarse": True, "min_area": 0.0})
    assert base != options_hash(["a", "b"], {"coarse": False, "min_area": 0.0})


def test_vrt_places_sources_of_different_resolutions(tmp_path):
    import numpy as np
    import rasterio
    from affine import Affine

    from geocrobim.batch.vrt import write_vrt

    def mask(name: str, value: int, res: float, x: float, size: int, hole: tuple[int, int]) -> Path:
        data = np.full((size, size), value, dtype=np.uint8)
        data[hole] = 255  # nodata: must not hide what lies below
        path = tmp_path / name
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="uint8",
                           crs="EPSG:32633", transform=Affine(res, 0, x, 0, -res, 5_000_000), nodata=255) as dst:
            dst.write(data, 1)
        return path

    coarse = mask("coarse.tif", 0, 1.0, 400_002, 4, hole=(3, 3))  # x 400002-400006
    fine = mask("fine.tif", 1, 0.5, 400_000, 8, hole=(0, 6))  # x 400000-400004, drawn last
    (tmp_path / "merged").mkdir()
    with rasterio.open(write_vrt([coarse, fine], tmp_path / "merged" / "mosaic.vrt")) as src:
        assert src.crs.to_epsg() == 32633 and src.res == (0.5, 0.5) and src.nodata == 255
        assert tuple(src.bounds) == (400_000, 4_999_996, 400_006, 5_000_000)
        data = src.read(1)
    expected = np.zeros((8, 12), dtype=np.uint8)
    expected[:, :8] = 1
    expected[0, 6] = 0  # the fine raster's nodata pixel shows the coarse one below
    expected[6:, 10:] = 255  # the coarse raster's nodata pixel, at 0.5 m
    np.testing.assert_array_equal(data, expected)
    assert "../coarse.tif" in (tmp_path / "merged" / "mosaic.vrt").read_text()  # relative: the folder can move
