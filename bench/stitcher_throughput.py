"""Stitcher throughput: blend constant probability tiles over a big scene into a tiled GeoTIFF.

    python bench/stitcher_throughput.py [--size 8192] [--tile 512] [--overlap 128] [--count 1]

Times ``Stitcher.add`` for every grid window plus the final flush (uint8 tiled GeoTIFF
with internal mask on local disk), and reports MB/s of float32 probabilities consumed and
megapixels/s of output. Prints a one-line summary last.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import rasterio
from affine import Affine

from geocrobim.raster import Stitcher, blend_weights, make_grid


def run(size: int, tile: int, overlap: int, count: int, folder: Path) -> dict[str, float]:
    windows = make_grid(size, size, tile, overlap)
    probs = np.full((count, tile, tile), 0.37, dtype=np.float32)
    path = folder / "stitched.tif"
    rss0 = psutil.Process().memory_info().rss
    start = time.perf_counter()
    stitcher = Stitcher(
        path, width=size, height=size, windows=windows, weights=blend_weights(tile, overlap), count=count,
        crs="EPSG:32633", transform=Affine(0.5, 0, 480_000, 0, -0.5, 5_120_000),
    )
    with stitcher:
        for window in windows:
            stitcher.add(window, probs)
    seconds = time.perf_counter() - start
    rss = psutil.Process().memory_info().rss - rss0
    with rasterio.open(path) as src:  # sanity: the constant came out constant
        assert (src.read(1, window=((0, 512), (0, 512))) == round(0.37 * 255)).all()
    input_mb = len(windows) * probs.nbytes / 1e6
    return {
        "windows": len(windows),
        "seconds": seconds,
        "input_mb": input_mb,
        "mb_per_s": input_mb / seconds,
        "mpx_per_s": size * size / 1e6 / seconds,
        "buffer_mb": stitcher.peak_buffer_bytes / 1e6,
        "rss_growth_mb": rss / 1e6,
        "file_mb": os.path.getsize(path) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="geocrobim-bench-") as tmp:
        for _ in range(args.repeat):
            results.append(run(args.size, args.tile, args.overlap, args.count, Path(tmp)))
    best = max(results, key=lambda r: r["mb_per_s"])
    for r in results:
        print(
            f"{r['windows']} windows, {r['seconds']:.2f} s, {r['mb_per_s']:.0f} MB/s of float32 probabilities, "
            f"{r['mpx_per_s']:.1f} Mpx/s output, buffer {r['buffer_mb']:.1f} MB, RSS +{r['rss_growth_mb']:.0f} MB, "
            f"file {r['file_mb']:.2f} MB"
        )
    print(
        f"stitcher_throughput: {args.size}x{args.size} x{args.count} tile {args.tile}/{args.overlap}: "
        f"best {best['mb_per_s']:.0f} MB/s ({best['mpx_per_s']:.1f} Mpx/s, {best['seconds']:.2f} s), "
        f"buffer {best['buffer_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
