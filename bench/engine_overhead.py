"""Engine overhead: ``segment`` end to end against the model alone over the same windows.

    python bench/engine_overhead.py [--size 8192] [--batch-size 8] [--repeats 1]

Writes a synthetic SIZE x SIZE 3-band uint8 GeoTIFF (EPSG:32633, 0.5 m, tiled 512,
uncompressed): a uniform grey ground with a few hundred textured 'objects'. The test
checkpoint (crobim_test, random weights) gives probabilities under 0.5 on the uniform
ground and a speckle of components on the objects, so vectorising has work to do
without the pathological millions of components that a random model makes on noise.

Measured, with the same Predictor (warm) and batch size:

- model: ``Predictor.predict`` over as many batches as the engine runs, on in-memory
  uint8 windows (no reading, no stitching, no writing);
- end to end: ``segment_raster(..., coarse=False)`` (read, stretch, model, resize,
  stitch, temporary GeoTIFF, polygonise, score, mask COG, vector, quicklook).

The model runs are taken before and after the end-to-end run and averaged, which
cancels a slow drift of the machine's load. Prints the breakdown and a final one-line
summary with the ratio end-to-end / model (target <= 1.10).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocrobim.compat import ensure_torchvision_importable  # noqa: E402

ensure_torchvision_importable()

import rasterio  # noqa: E402
from rasterio.transform import from_origin  # noqa: E402
from rasterio.windows import Window  # noqa: E402

EXPRESSION = "the large building"


def write_scene(path: Path, size: int, seed: int = 0) -> Path:
    """Uniform grey with textured squares, written in row bands (never the whole scene in memory)."""
    rng = np.random.default_rng(seed)
    boxes = [(int(r), int(c), int(s)) for r, c, s in zip(
        rng.integers(0, size - 200, size // 64), rng.integers(0, size - 200, size // 64), rng.integers(24, 160, size // 64)
    )]
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
        "crs": "EPSG:32633", "transform": from_origin(480_000, 5_120_000, 0.5, 0.5),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "photometric": "RGB",
    }
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 512):
            h = min(512, size - row)
            band = np.full((3, h, size), 120, dtype=np.uint8)
            for r, c, s in boxes:
                r0, r1 = max(r, row), min(r + s, row + h)
                if r1 > r0:
                    band[:, r0 - row : r1 - row, c : c + s] = rng.integers(0, 255, (3, r1 - r0, s), dtype=np.uint8)
            dst.write(band, window=Window(0, row, size, h))
    return path


def time_model(predictor, text, windows: int, batch_size: int, tile: int) -> tuple[float, float]:  # noqa: ANN001
    """(wall, CPU) seconds for ``predict`` over ``windows`` in-memory windows, in batches like the engine's."""
    rng = np.random.default_rng(1)
    batch = rng.integers(0, 255, (batch_size, 3, tile, tile), dtype=np.uint8)
    batch[:, :, : tile // 2] = 120  # half uniform, half texture: like the scene
    predictor.predict(batch, text)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    full, rest = divmod(windows, batch_size)
    for _ in range(full):
        predictor.predict(batch, text)
    if rest:
        predictor.predict(batch[:rest], text)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the engine's")
    parser.add_argument("--readers", type=int, default=None, help="default: the engine's (1 on the CPU)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from geocrobim.inference import DEFAULT_BATCH_SIZE, segment_raster
    from geocrobim.models import Predictor
    from geocrobim.models.testing import make_test_checkpoint

    batch_size = args.batch_size or DEFAULT_BATCH_SIZE
    readers = args.readers
    work = Path(args.workdir or tempfile.mkdtemp(prefix="geocrobim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scene = work / f"scene{args.size}.tif"
    if not scene.exists():
        t = time.perf_counter()
        write_scene(scene, args.size)
        print(f"wrote {scene} ({time.perf_counter() - t:.1f} s)")
    predictor = Predictor.from_checkpoint(make_test_checkpoint(work / "checkpoint"), device="cpu")
    text = predictor.encode_text([EXPRESSION])

    import torch

    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__} threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    from geocrobim.inference.reading import validate_tiling
    from geocrobim.raster import make_grid

    tile, overlap = validate_tiling(predictor.tile_size, None)
    windows = len(make_grid(args.size, args.size, tile, overlap))
    model_before, cpu_before = time_model(predictor, text, windows, batch_size, tile)
    print(f"model only: {windows} windows in {model_before:.2f} s ({windows / model_before:.1f} windows/s), "
          f"CPU {cpu_before:.1f} s")
    start, cpu = time.perf_counter(), time.process_time()
    result = segment_raster(
        scene, [EXPRESSION], output_dir=work / "out", predictor=predictor, coarse=False,
        batch_size=batch_size, readers=readers, overwrite=True,
    )
    end_to_end, end_to_end_cpu = time.perf_counter() - start, time.process_time() - cpu
    model_after, cpu_after = time_model(predictor, text, windows, batch_size, tile)
    model = (model_before + model_after) / 2
    model_cpu = (cpu_before + cpu_after) / 2
    t = result.timings
    print(f"model only again: {model_after:.2f} s, CPU {cpu_after:.1f} s; mean {model:.2f} s")
    print(f"CPU time: end to end {end_to_end_cpu:.1f} s vs model {model_cpu:.1f} s: "
          f"ratio {end_to_end_cpu / model_cpu:.3f} (less sensitive to other jobs than wall time)")
    print(
        f"end to end: {end_to_end:.2f} s = prepare {t['prepare_s']:.2f} + fine pass {t['fine_s']:.2f} "
        f"+ vectorise {t['vectorise_s']:.2f} + write {t['write_s']:.2f} (+ rest)"
    )
    print(f"components {result.expressions[0].components}, windows run {result.reading['fine_windows_run']}")
    print(f"fine pass / model: {t['fine_s'] / model:.3f}")
    print(
        f"engine_overhead: ratio {end_to_end / model:.3f} (end to end {end_to_end:.1f} s vs model only {model:.1f} s, "
        f"{windows} windows of {tile} px, {args.size}x{args.size}, batch {batch_size}, target <= 1.10)"
    )


if __name__ == "__main__":
    main()
