"""Memory scaling: peak RSS of ``geocrobim segment`` on a 4096^2 and a 16384^2 scene.

    python bench/memory_scaling.py [--sizes 4096 16384] [--tile-size 64] [--coarse]

Each run is a fresh ``geocrobim segment`` process (the real CLI, the test checkpoint,
``--no-coarse`` so that every window of the scene is read, run and stitched: the worst
case for memory). Peak RSS is the child's ``ru_maxrss`` from ``os.wait4``. The scenes
are synthetic 3-band uint8 GeoTIFFs (tiled 512, uncompressed) written in row bands by
``bench/engine_overhead.py``'s writer, so 16384^2 (768 MiB of pixels) is never in memory.

Prints one line per size and a final one-line summary with the ratio of the peaks
(target <= 1.15, and <= 1.5 GB at 16384).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine_overhead import write_scene


def peak_rss_mb(argv: list[str]) -> tuple[float, float]:
    """Run ``argv``; (peak RSS in MiB, seconds). Raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{stderr}")
    return usage.ru_maxrss / 1024, seconds  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--tile-size", type=int, default=None, help="default: the model's (64 for crobim_test)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--coarse", action="store_true", help="keep the coarse pass (default: --no-coarse)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from geocrobim.compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from geocrobim.models.testing import make_test_checkpoint

    work = Path(args.workdir or tempfile.mkdtemp(prefix="geocrobim-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = make_test_checkpoint(work / "checkpoint")
    peaks: dict[int, float] = {}
    for size in args.sizes:
        scene = work / f"scene{size}.tif"
        if not scene.exists():
            write_scene(scene, size)
        argv = [sys.executable, "-m", "geocrobim.cli.main", "-q", "segment", str(scene), "the large building",
                "-o", str(work / f"out{size}"), "--checkpoint", str(checkpoint), "--overwrite"]
        if not args.coarse:
            argv.append("--no-coarse")
        if args.tile_size:
            argv += ["--tile-size", str(args.tile_size)]
        if args.batch_size:
            argv += ["--batch-size", str(args.batch_size)]
        peak, seconds = peak_rss_mb(argv)
        peaks[size] = peak
        print(f"{size}x{size}: peak RSS {peak:.0f} MiB in {seconds:.0f} s")
    small, large = min(peaks), max(peaks)
    ratio = peaks[large] / peaks[small]
    print(
        f"memory_scaling: ratio {ratio:.3f} (peak RSS {peaks[small]:.0f} MiB at {small}^2, {peaks[large]:.0f} MiB at "
        f"{large}^2; targets ratio <= 1.15 and <= 1536 MiB)"
    )


if __name__ == "__main__":
    main()
