"""Batch scaling: items/s with 1 and 2 local workers and with Ray, and the fixed per-scene cost.

    python bench/batch_scaling.py [--items 16] [--size 256] [--no-ray] [--workdir DIR]

Writes ITEMS synthetic SIZE x SIZE RGB GeoTIFFs (EPSG:32633, 0.5 m; dark ground, one
bright block) and runs ``geocrobim.batch.run_batch`` over them with the tiny test
checkpoint (crobim_test, random weights) on the CPU, default engine options:

- local, 1 worker (the driver itself) with torch's default thread count and with one
  thread; local, 2 worker processes (one thread each, as the pool sets them); Ray (a
  local Ray started for the run, 2 actors, one thread each);
- per configuration: wall time of the whole call (start-up included: model load, process
  spawn, Ray start) and the steady rate, items / (last finish - first start) from the
  ledger, which excludes start-up;
- the fixed per-scene cost: with one worker and one thread, median item time of 64 x 64 scenes (one
  window) and of 512 x 512 scenes; ``time = fixed + per_mpx * megapixels`` through both.

``--spin`` keeps OpenMP's default active waiting (what ``geocrobim batch`` replaces with
``OMP_WAIT_POLICY=PASSIVE``) to show its cost on a shared CPU.

The test model is tiny, so the figures measure geocrobim's batch overhead (reading,
stretching, stitching, vectorising, COG/GeoPackage/quicklook writing, ledger), not model
speed: with a real model on a GPU, per-item compute dominates and workers scale with GPUs.
Prints the figures and a final one-line summary with the 2-worker / 1-worker ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rasterio
from rasterio.transform import from_origin

from geocrobim.process_settings import passive_omp_wait

EXPRESSION = "the white building"


def write_scenes(folder: Path, count: int, size: int, seed: int = 0) -> Path:
    """``count`` scenes side by side, each with a bright block on noisy dark ground."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        data = rng.integers(20, 60, (3, size, size), dtype=np.uint8)
        r, c = rng.integers(0, size // 2, 2)
        data[:, r : r + size // 4, c : c + size // 4] = 220
        profile = {
            "driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8", "crs": "EPSG:32633",
            "transform": from_origin(480_000 + n * size * 0.5, 5_120_000, 0.5, 0.5), "tiled": True,
            "blockxsize": 256, "blockysize": 256, "photometric": "RGB",
        }
        with rasterio.open(folder / f"s{n:03d}.tif", "w", **profile) as dst:
            dst.write(data)
    return folder


def item_times(out: Path) -> tuple[list[float], float]:
    """(per-item durations, steady seconds: first start to last finish) from the ledger."""
    records = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    items = [r for r in records if r["type"] == "item" and r["status"] == "ok"]
    starts = [dt.datetime.fromisoformat(r["started"]) for r in items]
    ends = [dt.datetime.fromisoformat(r["finished"]) for r in items]
    return [r["duration_s"] for r in items], (max(ends) - min(starts)).total_seconds()


def run(name: str, scenes: Path, out: Path, checkpoint: Path, **options: Any) -> dict[str, float]:
    from geocrobim.batch import SegmentOptions, collect_items, run_batch

    items = collect_items([scenes], [EXPRESSION])
    start = time.perf_counter()
    summary = run_batch(items, out, options=SegmentOptions(checkpoint=str(checkpoint), device="cpu"), merge=False, **options)
    wall = time.perf_counter() - start
    assert summary.ok == len(items), summary.to_dict()
    durations, steady = item_times(out)
    figures = {"items": len(items), "wall_s": wall, "wall_rate": len(items) / wall, "steady_rate": len(items) / steady,
               "median_item_s": statistics.median(durations)}
    print(f"{name:>16}: {len(items)} items, wall {wall:6.2f} s ({figures['wall_rate']:.2f} items/s with start-up), "
          f"steady {figures['steady_rate']:.2f} items/s, median item {figures['median_item_s']:.3f} s", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--spin", action="store_true", help="keep OpenMP's default (spinning) wait policy")
    args = parser.parse_args()
    if not args.spin:
        passive_omp_wait()  # as geocrobim batch does, before torch loads

    from geocrobim.models.testing import make_test_checkpoint

    work = Path(args.workdir or tempfile.mkdtemp(prefix="geocrobim-bench-batch-"))
    checkpoint = make_test_checkpoint(work / "checkpoint")
    scenes = write_scenes(work / f"scenes{args.size}", args.items, args.size)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.items} scenes of "
          f"{args.size}x{args.size}, crobim_test on the CPU, default engine options, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default (active)')}", flush=True)

    import torch

    default_threads = torch.get_num_threads()
    one_default = run(f"1 worker, {default_threads} thr", scenes, work / "out-1t", checkpoint, workers=1)
    torch.set_num_threads(1)  # from here on every worker (and the driver's own) has one torch thread
    one = run("1 worker, 1 thr", scenes, work / "out-1", checkpoint, workers=1)
    two = run("2 workers, 1 thr", scenes, work / "out-2", checkpoint, workers=2)
    ray = None
    if not args.no_ray:
        try:
            import ray as _  # noqa: F401 - only whether Ray imports
        except ImportError:
            print("ray not installed: skipped")
        else:
            ray = run("ray, 2 actors", scenes, work / "out-ray", checkpoint, executor="ray", workers=2)

    tiny = run("1 worker, 64 px", write_scenes(work / "scenes64", 8, 64), work / "out-64", checkpoint, workers=1)
    big = run("1 worker, 512 px", write_scenes(work / "scenes512", 4, 512), work / "out-512", checkpoint, workers=1)
    mpx_tiny, mpx_big = 64 * 64 / 1e6, 512 * 512 / 1e6
    per_mpx = (big["median_item_s"] - tiny["median_item_s"]) / (mpx_big - mpx_tiny)
    fixed = tiny["median_item_s"] - per_mpx * mpx_tiny
    print(f"per-scene cost (1 thread): fixed {fixed * 1000:.0f} ms + {per_mpx:.2f} s/Mpx (median item 64 px "
          f"{tiny['median_item_s']:.3f} s, 512 px {big['median_item_s']:.3f} s)")
    ray_text = f", ray {ray['steady_rate']:.2f} items/s ({ray['wall_s']:.1f} s wall)" if ray else ""
    print(
        f"batch_scaling: 2 workers / 1 worker = {two['steady_rate'] / one['steady_rate']:.2f}x steady "
        f"({one['steady_rate']:.2f} -> {two['steady_rate']:.2f} items/s, 1 torch thread each; 1 worker with "
        f"{default_threads} threads {one_default['steady_rate']:.2f}){ray_text}; fixed per-scene cost "
        f"{fixed * 1000:.0f} ms, {per_mpx:.2f} s/Mpx"
    )

if __name__ == "__main__":
    main()
