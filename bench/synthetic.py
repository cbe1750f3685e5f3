"""Synthetic data generation speed: in-memory chips per GSD, and GeoTIFF scenes (time, peak memory).

    python bench/synthetic.py                 # 48 chips of 512 px, a 2048 px scene
    python bench/synthetic.py --big 8192      # also an 8192 px scene, with peak RSS

Prints one line per measurement and a final summary line with the chip time against
the 0.2 s per 512 px chip target (ratio < 1 is within target).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocrobim.data.synthetic import ChipGenerator, write_scene

TARGET_S = 0.2  # seconds per 512 px chip


def chips(n: int, size: int, per_scene: int) -> dict[float, list[float]]:
    """CPU seconds per chip, by GSD (scene rendering shared by ``per_scene`` chips).

    CPU time of this process (single-threaded numpy), so a busy shared machine does not
    inflate it; on an idle core wall time is the same.
    """
    times: dict[float, list[float]] = {}
    for gsd in (0.3, 0.5, 1.0, 2.0):
        gen = ChipGenerator(size=size, gsds=(gsd,), seed=123, per_scene=per_scene)
        gen.scene(0)  # warm-up (imports, caches)
        for i in range(1, n // 4 + 1):
            t = time.process_time()
            samples = gen.scene(i)
            times.setdefault(gsd, []).append((time.process_time() - t) / len(samples))
    return times


def scene(size: int) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB so far) for one scene written to a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        t, c = time.perf_counter(), time.process_time()
        write_scene(Path(tmp) / "scene.tif", size=size, gsd=0.5, seed=1, expressions=5)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    return wall, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chips", type=int, default=48, help="chips per per-scene setting (spread over 4 GSDs)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--scene-size", type=int, default=2048)
    parser.add_argument("--big", type=int, default=0, help="also time a scene of this size (e.g. 8192)")
    args = parser.parse_args()

    means = {}
    for per_scene in (1, 4):
        times = chips(args.chips, args.size, per_scene)
        for gsd, ts in times.items():
            print(f"chip {args.size} px, gsd {gsd:g} m, per_scene {per_scene}: median {statistics.median(ts):.3f} CPU s/chip")
        means[per_scene] = statistics.mean(t for ts in times.values() for t in ts)
        print(f"chip {args.size} px, per_scene {per_scene}: mean {means[per_scene]:.3f} CPU s/chip over 4 GSDs")
    wall, cpu, rss = scene(args.scene_size)
    print(f"scene {args.scene_size} px at 0.5 m: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MiB")
    if args.big:
        big_wall, big_cpu, big_rss = scene(args.big)
        print(f"scene {args.big} px at 0.5 m: {big_wall:.1f} s wall, {big_cpu:.1f} s CPU, peak RSS {big_rss:.0f} MiB")
    print(f"summary: {means[1]:.3f} CPU s per {args.size} px chip ({means[4]:.3f} s with 4 expressions per scene), "
          f"ratio to the {TARGET_S} s target {means[1] / TARGET_S:.2f}; {args.scene_size} px scene {cpu:.1f} CPU s")  # fmt: skip


if __name__ == "__main__":
    main()
