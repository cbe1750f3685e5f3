"""Fit a checkpoint's score calibration on held-out synthetic scenes (``geocrobim calibrate``).

Each scene (generated with a seed no training run uses) goes through the engine as a user's
would, with ``instances="all"`` and the checkpoint's raw scores, for two kinds of expression:

- *present*: the generator's own expressions, each naming exactly one object; a component is
  the referent when its IoU with that object's mask is >= 0.5;
- *absent*: "the blue storage tank" in a scene without one (a category, or a colour of a
  category, that no object of the scene has); every component is wrong.

Every component becomes a labelled sample (its fine and coarse means, 1 if it is the
referent); :func:`~geocrobim.inference.calibration.fit_calibration` maps them to probabilities.
The scenes are split in two: the map fitted on the first half is measured on the second (the
ECE and the reliability table reported), then the map fitted on all of them is stored in the
checkpoint's ``metadata.json`` with the "not found" threshold.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize

from geocrobim.atomic import write_text
from geocrobim.data.synthetic.objects import NOUNS
from geocrobim.data.synthetic.palette import CATEGORY_COLOURS
from geocrobim.data.synthetic.scene_files import write_scene
from geocrobim.inference.calibration import (
    CALIBRATION_KEYS,
    calibration_key,
    expected_calibration_error,
    fit_calibration,
    raw_score,
    reliability,
)
from geocrobim.models.checkpoint import resolve_checkpoint

logger = logging.getLogger(__name__)

#: A component is the referent when its IoU with the referent's mask reaches this.
REFERENT_IOU = 0.5
#: Default first seed: far from the seeds of the training, validation and test streams and of the benches.
SEED0 = 9000
#: The calibrated probability under which the best instance is "not found": where being
#: wrong costs as much as being right gains, answering pays only above even odds.
THRESHOLD = 0.5


@dataclass(frozen=True)
class Sample:
    """One component of one expression in one calibration scene.

    An expression for which the engine found no component at all is kept as one sample of
    rank 0 (no fine or coarse mean): it counts in the decisions ("not found"), not in the fit.
    """

    seed: int
    expression: str
    present: bool
    fine: float
    coarse: float
    referent: bool
    rank: int


def absent_expressions(objects: list[dict[str, Any]], count: int, rng: np.random.Generator) -> list[str]:
    """Expressions naming something the scene does not hold.

    Args:
        objects: the scene index's ``objects`` (``category``, ``colour``).
        count: how many to return (fewer if the scene holds nearly everything).
        rng: the choice of which.
    """
    have = {(o["category"], o.get("colour")) for o in objects}
    categories = {o["category"] for o in objects}
    options = [f"the {nouns[0]}" for category, nouns in NOUNS.items() if category not in categories]
    options += [
        f"the {colour} {NOUNS[category][0]}"
        for category, colours in CATEGORY_COLOURS.items()
        for colour in colours
        if (category, colour) not in have
    ]
    if not options:
        return []
    picked = rng.choice(len(options), size=min(count, len(options)), replace=False)
    return [options[i] for i in sorted(picked)]


def label_components(vector: Path, truth: Path | None) -> list[tuple[float, float, bool, int]]:
    """(fine, coarse, is-referent, rank) of every component the engine wrote to a vector file.

    Args:
        vector: the engine's vector output (any format keeping the scene's CRS, e.g. GeoPackage).
        truth: the referent's mask on the scene's grid, or None for an absent expression.
    """
    from pyogrio.raw import read as read_vector

    meta, _, wkb, fields = read_vector(vector, layer=vector.stem)  # the engine names the layer after the file
    if not len(wkb):
        return []
    columns = dict(zip(meta["fields"], fields, strict=True))
    geoms = shapely.from_wkb(wkb)
    if truth is None:
        hits = np.zeros(len(geoms), dtype=bool)
    else:
        with rasterio.open(truth) as gt:
            target, shape_, transform = gt.read(1) > 0, (gt.height, gt.width), gt.transform
        # Components are disjoint: one label raster gives every intersection and area at once.
        labels = rasterize(
            ((g, i + 1) for i, g in enumerate(geoms)), out_shape=shape_, transform=transform, fill=0, dtype="int32"
        )
        n = len(geoms) + 1
        inter = np.bincount(labels[target], minlength=n)[1:]
        area = np.bincount(labels.ravel(), minlength=n)[1:]
        hits = inter / np.maximum(area + target.sum() - inter, 1) >= REFERENT_IOU
    return [
        (float(f), float(c), bool(h), int(r))
        for f, c, h, r in zip(columns["fine_prob"], columns["coarse_prob"], hits, columns["rank"], strict=True)
    ]


def collect_samples(
    predictor: Any,
    seeds: range,
    workdir: Path,
    *,
    size: int = 2048,
    gsd: float = 0.5,
    expressions: int = 4,
    absent: int = 2,
    tta: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Sample]:
    """Run the engine on one generated scene per seed; every component of every expression, labelled.

    Args:
        predictor: a loaded Predictor whose metadata holds no calibration (raw scores).
        seeds: scene seeds.
        workdir: scenes and outputs go here.
        size: scene side in pixels.
        gsd: scene GSD in metres.
        expressions: present expressions per scene.
        absent: absent expressions per scene.
        tta: read with the flip ensemble (None: as the model's metadata says).
        progress: ``(done, total)`` over the scenes.
    """
    from geocrobim.inference.engine import segment_raster

    samples: list[Sample] = []
    for done, seed in enumerate(seeds):
        path = workdir / f"scene-{seed}.tif"
        index = write_scene(path, size=size, gsd=gsd, seed=seed, expressions=expressions, overwrite=True)
        present = [(e["text"], path.parent / e["mask"]) for e in index["expressions"]]
        missing = absent_expressions(index["objects"], absent, np.random.default_rng(seed))
        texts = [t for t, _ in present] + missing
        truths: list[Path | None] = [m for _, m in present] + [None] * len(missing)
        result = segment_raster(
            path, texts, output_dir=workdir / f"out-{seed}", predictor=predictor, instances="all", overwrite=True, tta=tta,
        )  # fmt: skip
        for item, truth in zip(result.expressions, truths, strict=True):
            components = label_components(item.outputs.vector, truth)
            for fine, coarse, hit, rank in components or [(float("nan"), float("nan"), False, 0)]:
                samples.append(Sample(seed, item.expression, truth is not None, fine, coarse, hit, rank))
        logger.info("calibration scene %d (%d/%d): %d samples so far", seed, done + 1, len(seeds), len(samples))
        if progress is not None:
            progress(done + 1, len(seeds))
    return samples


def _arrays(samples: list[Sample], components_only: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fine means, coarse means and labels (expressions without a component left out, or as NaN means)."""
    if components_only:
        samples = [s for s in samples if s.rank > 0]
    return (
        np.array([s.fine for s in samples]),
        np.array([s.coarse for s in samples]),
        np.array([s.referent for s in samples], dtype=np.float64),
    )


def evaluate_split(samples: list[Sample], threshold: float = THRESHOLD) -> dict[str, Any]:
    """Fit on the first half of the scenes, measure on the second: ECE before and after, reliability, decisions."""
    seeds = sorted({s.seed for s in samples})
    first = set(seeds[: len(seeds) // 2])
    fit_part = [s for s in samples if s.seed in first]
    test_part = [s for s in samples if s.seed not in first]
    calibration = fit_calibration(*_arrays(fit_part), threshold=threshold)
    # Every expression counts in the decisions; one without any component scores 0 ("not found").
    fine, coarse, labels = _arrays(test_part, components_only=False)
    component = np.array([s.rank > 0 for s in test_part])
    raw = np.where(component, raw_score(fine, coarse), 0.0)
    calibrated = np.where(component, calibration.probability(np.nan_to_num(fine, nan=0.5), coarse), 0.0)
    best = _best_decisions(test_part, calibrated, threshold)
    best_p, best_y = _best_of_each(test_part, calibrated)
    best_raw, _ = _best_of_each(test_part, raw)  # the same components: the map is increasing
    raw, calibrated, labels = raw[component], calibrated[component], labels[component]
    return {
        "fit_scenes": len(first),
        "test_scenes": len(seeds) - len(first),
        "test_samples": len(labels),
        "test_referents": int(labels.sum()),
        "ece_raw": round(expected_calibration_error(raw, labels), 4),
        "ece": round(expected_calibration_error(calibrated, labels), 4),
        # What a user reads: the best instance's score per expression, against whether it is the referent.
        "best_ece": round(expected_calibration_error(best_p, best_y), 4),
        "best_ece_raw": round(expected_calibration_error(best_raw, best_y), 4),
        "best_reliability": _rounded(reliability(best_p, best_y)),
        "best_reliability_raw": _rounded(reliability(best_raw, best_y)),
        "reliability": _rounded(reliability(calibrated, labels)),
        "reliability_raw": _rounded(reliability(raw, labels)),
        **best,
    }


def _rounded(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in rows]


def _best(samples: list[Sample], scores: np.ndarray) -> dict[tuple[int, str], tuple[float, Sample]]:
    """Per (scene, expression), the best-scoring component and its score."""
    best: dict[tuple[int, str], tuple[float, Sample]] = {}
    for s, p in zip(samples, scores, strict=True):
        key = (s.seed, s.expression)
        if key not in best or p > best[key][0]:
            best[key] = (float(p), s)
    return best


def _best_of_each(samples: list[Sample], scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best component's score per expression, and 1 where it is the referent."""
    best = list(_best(samples, scores).values())
    return np.array([p for p, _ in best]), np.array([s.referent for _, s in best], dtype=np.float64)


def _best_decisions(samples: list[Sample], scores: np.ndarray, threshold: float) -> dict[str, int]:
    """Per expression, the best-scoring component's fate at ``threshold``: what a user would be told."""
    best = _best(samples, scores)
    counts = {"present_found_right": 0, "present_found_wrong": 0, "present_not_found": 0, "absent_found": 0, "absent_not_found": 0}
    for p, s in best.values():
        found = p >= threshold
        if s.present:
            counts["present_not_found" if not found else "present_found_right" if s.referent else "present_found_wrong"] += 1
        else:
            counts["absent_found" if found else "absent_not_found"] += 1
    return counts


def calibrate_checkpoint(
    checkpoint: str | Path,
    *,
    scenes: int = 24,
    seed0: int = SEED0,
    size: int = 2048,
    device: str = "cpu",
    threshold: float = THRESHOLD,
    workdir: Path | None = None,
    write: bool = True,
    tta: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Fit, measure and (with ``write``) store a checkpoint's score calibration.

    A map holds for the reading it was fitted on: ``tta`` None fits the one the model's metadata
    asks for (stored as ``"calibration"``); the other reading's map is stored beside it
    (:func:`~geocrobim.inference.calibration.calibration_key`), and the engine picks the one for
    the reading it runs.

    Returns:
        The report: the stored calibration, the key it is stored under, the held-out figures and
        where the data came from.
    """
    from geocrobim.models import Predictor

    directory = resolve_checkpoint(checkpoint)
    predictor = Predictor.from_checkpoint(directory, device=device)
    key = calibration_key(predictor.metadata, tta)
    reading = bool(predictor.metadata.get("tta", False)) if tta is None else tta
    for stored in CALIBRATION_KEYS:
        predictor.metadata.pop(stored, None)  # collect raw scores, whatever is stored
    with tempfile.TemporaryDirectory(prefix="geocrobim-calibrate-") as tmp:
        work = workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        samples = collect_samples(predictor, range(seed0, seed0 + scenes), work, size=size, tta=reading, progress=progress)
    held_out = evaluate_split(samples, threshold)
    stats = {
        "samples": sum(s.rank > 0 for s in samples),
        "referents": int(sum(s.referent for s in samples)),
        "fitted_on": f"{scenes} synthetic scenes of {size} px at 0.5 m (seeds {seed0}-{seed0 + scenes - 1}), "
        "4 present and 2 absent expressions each, every component labelled (referent: IoU >= 0.5)"
        + (", with the flip ensemble" if reading else ", one pass (no flip ensemble)"),
        "held_out_ece": held_out["ece"],
        "held_out_ece_raw": held_out["ece_raw"],
    }
    calibration = fit_calibration(*_arrays(samples), threshold=threshold, stats=stats)
    report = {"checkpoint": str(directory), "calibration": calibration.to_metadata(), "key": key, "held_out": held_out}
    if write:
        meta_path = directory / "metadata.json"
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        metadata[key] = calibration.to_metadata()
        write_text(meta_path, json.dumps(metadata, indent=2) + "\n")
        logger.info("wrote the calibration into %s", meta_path)
    return report


__all__ = ["Sample", "absent_expressions", "calibrate_checkpoint", "collect_samples", "evaluate_split"]
