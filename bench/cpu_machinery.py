"""Does the CPU machinery pay for the shipped model? ThreadTuner and traced graphs, end to end.

    python bench/cpu_machinery.py [--checkpoint default] [--repeats 3] [--json OUT]

Runs ``segment_raster`` on ``sample_data/scene.tif`` with the README sentence (the
``make demo`` job, model loading excluded) in four configurations, each with its own warm
Predictor, interleaved round by round so that a change of the machine's load hits all of them:

- ``both``: the engine as shipped: a traced forward (``Predictor(trace=None)``: on for fp32
  on the CPU) and the ThreadTuner choosing torch's thread count in each pass;
- ``no-tuner``: traced, the thread count left as torch has it (one per core);
- ``no-trace``: eager forward, tuner on;
- ``neither``: eager forward, no tuner.

The tuner is switched off by replacing ``geocrobim.inference.passes.ThreadTuner`` with a
pass-through for that run (what ``enabled=False`` does on a GPU). Per configuration: the
median and best wall time of the passes (coarse + fine, the part these affect) and of the
whole call. The last line is the summary: each piece's gain over running without it, as a
ratio of median pass times (the issue's bar: keep a piece only for >= 5 %).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocrobim.compat import ensure_torchvision_importable
from geocrobim.process_settings import passive_omp_wait

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "sample_data" / "scene.tif"
EXPRESSION = "the red-roofed warehouse north of the river"
CONFIGS = {"both": (True, True), "no-tuner": (True, False), "no-trace": (False, True), "neither": (False, False)}


class PassThrough:
    """Stands in for ThreadTuner: calls the model step with torch's thread count as it is."""

    def __init__(self, predict: Any, enabled: bool = True, **_: Any) -> None:
        self.predict = predict

    def __call__(self, images: Any) -> Any:
        return self.predict(images)

    def restore(self) -> None:
        """Nothing to restore."""


def run_once(predictor: Any, tuner: bool, out: Path) -> dict[str, float]:
    """One ``segment_raster`` call; its pass and total wall times."""
    import geocrobim.inference.passes as passes
    from geocrobim.inference import segment_raster
    from geocrobim.inference.threads import ThreadTuner

    passes.ThreadTuner = ThreadTuner if tuner else PassThrough  # type: ignore[misc]  # the bench's switch
    try:
        t0 = time.perf_counter()
        result = segment_raster(SCENE, [EXPRESSION], output_dir=out, predictor=predictor, overwrite=True)
        total = time.perf_counter() - t0
    finally:
        passes.ThreadTuner = ThreadTuner  # type: ignore[misc]
    return {"passes_s": result.timings["coarse_s"] + result.timings["fine_s"], "total_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    passive_omp_wait()  # as the CLI does
    ensure_torchvision_importable()
    from geocrobim.models import Predictor

    predictors = {trace: Predictor.from_checkpoint(args.checkpoint, device="cpu", trace=trace) for trace in (True, False)}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (trace, tuner) in CONFIGS.items():  # warm-up: traces each batch shape once
            run_once(predictors[trace], tuner, Path(tmp) / name)
        for _ in range(args.repeats):
            for name, (trace, tuner) in CONFIGS.items():
                runs[name].append(run_once(predictors[trace], tuner, Path(tmp) / name))
    summary = {
        name: {
            "median_passes_s": round(statistics.median(r["passes_s"] for r in rs), 3),
            "best_passes_s": round(min(r["passes_s"] for r in rs), 3),
            "median_total_s": round(statistics.median(r["total_s"] for r in rs), 3),
        }
        for name, rs in runs.items()
    }
    print(f"{'config':<10} {'passes med':>11} {'passes best':>12} {'total med':>10}")
    for name, s in summary.items():
        print(f"{name:<10} {s['median_passes_s']:>11.2f} {s['best_passes_s']:>12.2f} {s['median_total_s']:>10.2f}")
    med = {name: s["median_passes_s"] for name, s in summary.items()}
    tuner_gain = med["no-tuner"] / med["both"] - 1
    trace_gain = med["no-trace"] / med["both"] - 1
    both_gain = med["neither"] / med["both"] - 1
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2), encoding="utf-8")
    print(
        f"cpu machinery: tuner saves {tuner_gain:+.1%}, tracing {trace_gain:+.1%}, both {both_gain:+.1%} of the "
        f"passes' median time (ratio neither/both {med['neither'] / med['both']:.2f}; keep a piece for >= 5 %)"
    )


if __name__ == "__main__":
    main()
