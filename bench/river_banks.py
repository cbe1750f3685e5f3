"""The river the engine finds: is every "north of the river" referent on the bank the engine measures?

    python bench/river_banks.py [--checkpoint default] [--workdir DIR] [--json OUT]

For each scene of the grounding bench's sets (``bench/grounding.py``: seeds 1000-1002 with 3
expressions, 1003-1016 with 4) and for ``sample_data/scene.tif``, every expression that names a
bank of the river ("the pond on the north side of the river") is checked: the model, with the
flip ensemble, is asked for "the river" on the engine's coarse view of the whole scene
(``coarse_pass``, exactly as ``segment`` runs it), ``geocrobim.inference.river.RiverCourse`` fits
the river's course on that map, and the ground-truth referent's centroid is tested against the
named bank. This measures the engine's river and its side test, not whether the model lights the
referent (that is ``bench/grounding.py``). The last line is the summary: referents on the named
bank, of all such expressions. Scene generation is not timed; ``--workdir`` keeps the scenes for
the next run (and reuses the grounding bench's).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grounding import make_scenes  # the grounding bench's scene sets

from geocrobim.inference.passes import coarse_pass
from geocrobim.inference.read_plan import plan_reading
from geocrobim.inference.river import RIVER_TEXT, RiverCourse
from geocrobim.inference.scene_words import read_scene_words
from geocrobim.raster import compute_stretch, open_scene

ROOT = Path(__file__).resolve().parents[1]
SETS = ((1000, 3, 3), (1003, 8, 4), (1011, 6, 4))  # (first seed, scenes, expressions): bench/grounding.py's sets


def referent_centre(mask_path: Path) -> tuple[float, float]:
    """Map coordinates of the ground-truth mask's centroid."""
    with rasterio.open(mask_path) as src:
        rows, cols = np.nonzero(src.read(1) > 0)
        x, y = src.transform @ (cols.mean() + 0.5, rows.mean() + 0.5)
    return float(x), float(y)


def check_scene(path: Path, index: dict[str, Any], predictor: Any) -> list[dict[str, Any]]:
    """One row per bank expression of the scene: the river found, the bank, whether the referent is on it."""
    banks = [(e, read_scene_words(e["text"]).bank) for e in index["expressions"]]
    banks = [(e, b) for e, b in banks if b is not None]
    if not banks:
        return []
    scene = open_scene(path, None)
    with scene.open() as src:
        stretch = compute_stretch(src, scene, None)
    plan = plan_reading(tile=predictor.tile_size, overlap=None, source_gsd=scene.gsd_m, model_gsd=predictor.gsd, gsd=None)
    outcome = coarse_pass(scene, stretch, plan, predictor, predictor.encode_text([RIVER_TEXT]), 1, batch_size=4, readers=0, always=True)
    course = None if outcome is None else RiverCourse.from_probabilities(outcome.probs[0], outcome.grid.transform(scene.transform))
    rows = []
    for entry, bank in banks:
        x, y = referent_centre(path.parent / entry["mask"])
        on = None if course is None else course.on_bank(np.array([x]), np.array([y]), bank)
        rows.append({
            "scene": path.name, "expression": entry["text"], "bank": bank,
            "river": None if course is None else course.describe(), "river_pixels": None if course is None else course.pixels,
            "on_bank": None if on is None else bool(on[0]),
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the scenes here (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from geocrobim.models import FlipEnsemble, Predictor

    predictor = FlipEnsemble(Predictor.from_checkpoint(args.checkpoint, device="cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        scenes = [s for seed0, n, e in SETS for s in make_scenes(work, n, 2048, e, seed0)]
        scenes.append((ROOT / "sample_data" / "scene.tif", json.loads((ROOT / "sample_data" / "scene.json").read_text())))
        t0 = time.perf_counter()
        rows = [row for path, index in scenes for row in check_scene(path, index, predictor)]
        seconds = time.perf_counter() - t0
    for r in rows:
        print(f"{r['scene'][:22]:22s}  {str(r['river']):28s}  {r['bank']:5s}  {str(r['on_bank']):5s}  {r['expression']}")
    on = sum(bool(r["on_bank"]) for r in rows)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "on_bank": on, "expressions": len(rows), "seconds": round(seconds, 1)}, indent=1))
    print(f"river banks: {on}/{len(rows)} referents on the named bank of the river the engine found ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
