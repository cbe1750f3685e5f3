"""GPU throughput: windows/s of crobim_swin_b at 480 x 480 in bf16, model only and end to end.

    python bench/gpu_throughput.py [--batch-size 16] [--size 8192] [--seconds 20]

Skips cleanly (exit 0, one line) without a CUDA device. The model is the paper-size
``crobim_swin_b`` preset with random weights (no download) and a self-made vocab;
throughput does not depend on the weights.

- model only: ``Predictor.predict`` on in-memory uint8 batches (host->device copy,
  normalisation, bf16 autocast forward, sigmoid, copy back), and the bare forward on
  device tensors (for the fraction of the GPU's bf16 peak, from a FLOP count of one
  forward with ``torch.utils.flop_counter``);
- end to end: ``segment_raster(..., coarse=False)`` on a synthetic SIZE^2 3-band uint8
  GeoTIFF, windows/s of the fine pass and of the whole run.

Final one-line summary: windows/s both ways and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()

import torch

#: Dense bf16 tensor-core peak (no sparsity) from NVIDIA's data sheets, TFLOP/s.
BF16_PEAK_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0, "A10": 125.0}
EXPRESSION = "the large building"


def peak_for(name: str) -> float | None:
    return next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)


def timed(fn, seconds: float) -> tuple[int, float]:
    """Call ``fn`` (returns windows done) repeatedly for about ``seconds``; (windows, elapsed)."""
    fn()
    torch.cuda.synchronize()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += fn()
    torch.cuda.synchronize()
    return done, time.perf_counter() - start


def count_flops(predictor, batch: torch.Tensor, expressions: list[str]) -> float:
    """FLOPs of one forward of ``batch`` (matmuls and convolutions, as torch's counter sees them).

    Runs in ordinary grad mode with freshly encoded text: the counter's module hooks fail
    on inference-mode tensors.
    """
    from torch.utils.flop_counter import FlopCounterMode

    model = predictor.model
    ids, mask = predictor.tokenizer(expressions, model.config.max_tokens)
    with FlopCounterMode(display=False) as counter, torch.autocast(batch.device.type, torch.bfloat16):
        text = model.encode_text(ids.to(batch.device), mask.to(batch.device), expressions)
        before = counter.get_total_flops()
        model.forward_many(batch.clone(), text)
    return float(counter.get_total_flops() - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", type=int, default=8192, help="scene side for the end-to-end run")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_throughput: skipped (no CUDA device)")
        return

    from engine_overhead import write_scene

    from geocrobim.inference import segment_raster
    from geocrobim.models import Predictor
    from geocrobim.models.testing import make_test_model, make_test_tokenizer

    name = torch.cuda.get_device_name()
    tokenizer = make_test_tokenizer()
    model = make_test_model("crobim_swin_b", vocab_size=tokenizer.vocab_size)
    predictor = Predictor(model, tokenizer, device="cuda", precision="bf16",
                          metadata={"model_id": "crobim_swin_b-random", "gsd_m": None})
    tile, b = predictor.tile_size, args.batch_size
    text = predictor.encode_text([EXPRESSION])
    images = np.random.default_rng(0).integers(0, 255, (b, 3, tile, tile), dtype=np.uint8)

    def api() -> int:
        predictor.predict(images, text)
        return b

    n, t = timed(api, args.seconds)
    model_wps = n / t
    batch = predictor._to_tensor(images)

    def bare() -> int:
        with predictor._running():
            predictor.model.forward_many(batch, text)
        return b

    n, t = timed(bare, args.seconds)
    bare_wps = n / t
    print(f"device: {name}, torch {torch.__version__}, batch {b}")
    print(f"model only (Predictor.predict, uint8 in, float32 out): {model_wps:.1f} windows/s")
    flops = count_flops(predictor, batch[:1], [EXPRESSION])
    peak = peak_for(name)
    achieved = flops * bare_wps / 1e12
    fraction = f"{achieved / peak:.1%} of {peak:.0f}" if peak else "unknown peak"
    print(f"bare forward on device tensors: {bare_wps:.1f} windows/s, {flops / 1e9:.1f} GFLOP per window "
          f"= {achieved:.1f} TFLOP/s ({fraction} TFLOP/s dense bf16)")

    work = Path(args.workdir or tempfile.mkdtemp(prefix="geocrobim-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    scene = work / f"scene{args.size}.tif"
    if not scene.exists():
        write_scene(scene, args.size)
    start = time.perf_counter()
    result = segment_raster(scene, [EXPRESSION], output_dir=work / "out", predictor=predictor, coarse=False,
                            batch_size=b, overwrite=True, vector_format="parquet")
    total = time.perf_counter() - start
    windows = result.reading["fine_windows_run"]
    fine_wps = windows / result.timings["fine_s"]
    print(f"end to end: {windows} windows, fine pass {result.timings['fine_s']:.1f} s ({fine_wps:.1f} windows/s), "
          f"whole run {total:.1f} s ({windows / total:.1f} windows/s); timings {result.timings}")
    print(
        f"gpu_throughput: model {model_wps:.1f} windows/s, end to end {fine_wps:.1f} windows/s (fine pass), "
        f"ratio {fine_wps / model_wps:.3f}; {name}, crobim_swin_b 480 bf16, batch {b}, {achieved:.0f} TFLOP/s"
    )


if __name__ == "__main__":
    main()
