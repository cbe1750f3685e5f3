"""``--executor ray`` on a real two-node Ray cluster on 127.0.0.1: the batch completes,
and killing the worker node mid-run loses no item, duplicates none, leaves no partial
output. Skipped only when Ray is not installed (CI installs it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from batch_helpers import EXPR, SCENE_FILES, item_records, temp_leftovers, write_geotiff

from geocrobim.batch import SegmentOptions, collect_items, run_batch

ray = pytest.importorskip("ray")

SCENES = 12  # enough items that both actors start work before the queue drains, even on a busy machine


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch):
    """A head and a worker node, one CPU each, on the loopback address."""
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    # Ray resolves "127.0.0.1" to the machine's address unless told this is a one-machine setup.
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    worker = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    yield cluster, worker
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    for n in range(SCENES):
        data = rng.integers(20, 60, (3, 256, 256)).astype("uint8")
        data[:, 60 + 8 * n : 140 + 8 * n, 80:160] = 220
        write_geotiff(tmp_path / "in" / f"s{n}.tif", data, transform=(0.5, 0, 480_000 + 128 * n, 0, -0.5, 5_120_000))
    return tmp_path / "in"


def test_ray_batch_survives_the_loss_of_a_worker_node(cluster, scenes, checkpoint, tmp_path):
    head, worker = cluster
    out = tmp_path / "out"
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        # Once both actors have finished an item and items are still waiting, kill the worker
        # node: its actor dies either mid-item or when it is next handed one.
        records = item_records(out) if (out / "ledger.jsonl").exists() else []
        workers = {r["worker"] for r in records if r["status"] == "ok"}
        if not killed and len(workers) == 2 and done <= total - 3:
            head.remove_node(worker)
            killed.append(done)

    items = collect_items([scenes], [EXPR])
    summary = run_batch(items, out, options=SegmentOptions(checkpoint=str(checkpoint), device="cpu", coarse=False),
                        executor="ray", address=head.address, progress=progress)

    assert killed, "both actors never ran while items were waiting"
    assert (summary.ok, summary.failed) == (SCENES, 0) and summary.lost >= 1
    records = item_records(out)
    ok = sorted(r["scene_id"] for r in records if r["status"] == "ok")
    assert ok == sorted(f"s{n}" for n in range(SCENES))  # every item once: no loss, no duplicate
    assert {r["status"] for r in records} == {"ok", "lost"}
    lost = [r for r in records if r["status"] == "lost"]
    assert all(r["error_type"] == "WorkerLost" and "retrying" in r["error"] for r in lost)
    for n in range(SCENES):  # complete scene folders, nothing else
        names = sorted(p.name for p in (out / f"s{n}").iterdir())
        assert names == sorted(f"s{n}.the-white-building.{e}" for e in SCENE_FILES)
    assert temp_leftovers(out) == []
    with rasterio.open(out / "merged" / "the-white-building.epsg32633-0.5m.mask.vrt") as mosaic:
        assert mosaic.crs.to_epsg() == 32633 and (mosaic.width, mosaic.height) == (256 * SCENES, 256)
