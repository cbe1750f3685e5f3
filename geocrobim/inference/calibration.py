"""Scores that mean something: the probability that an instance is the referred object.

The engine's raw evidence for a connected component is two mean probabilities, the fine
pass's inside it and the coarse pass's over it (:mod:`geocrobim.inference.instances`).
Their product ranks components well but is not a probability: the shipped model gives
0.6-0.9 to wrong objects. :class:`ScoreCalibration` maps the product, through its logit, to
the probability that the component *is* the referent (IoU >= 0.5 with it), by Platt scaling
(a one-input logistic regression) fitted on held-out synthetic scenes when a model is
exported (:mod:`geocrobim.training.calibration`, ``geocrobim calibrate``). The map is
increasing, so the ranking of components (which one is "best") does not change; a
two-input fit (fine and coarse separately) was measured too and gave a worse calibration of
the best instance and a different ranking (docs/model.md). It is stored in the checkpoint's
``metadata.json`` under ``"calibration"``, with the threshold below which the engine answers
"not found". Without a coarse pass the product is the fine mean alone, mapped by its own fit.

numpy only: the engine applies it without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Logits are taken of probabilities clipped to [EPS, 1 - EPS]: a saturated 1.0 is evidence, not infinity.
EPS = 1e-4
#: L2 penalty of the logistic fit (on the weights, not the intercept): keeps a fit on a
#: few hundred instances from running off when one input separates the labels.
L2 = 1e-2
#: Reliability bins of the expected calibration error.
BINS = 10


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` of ``p`` clipped to ``[EPS, 1 - EPS]``."""
    q = np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0 - EPS)
    return np.log(q / (1.0 - q))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large negative inputs."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def raw_score(fine: np.ndarray, coarse: np.ndarray | None) -> np.ndarray:
    """The engine's uncalibrated score: fine x coarse mean probability; the fine mean alone where
    there was no coarse pass (``coarse`` None or NaN)."""
    fine = np.asarray(fine, dtype=np.float64)
    if coarse is None:
        return fine
    return fine * np.nan_to_num(np.asarray(coarse, dtype=np.float64), nan=1.0)


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = L2, iterations: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method (iteratively reweighted least squares).

    Args:
        features: ``(N, K)`` inputs.
        labels: ``(N,)`` 0/1 targets.
        l2: ridge penalty on the K weights (the intercept is not penalised).
        iterations: at most this many Newton steps (it converges in well under 20).

    Returns:
        ``(K + 1,)`` weights: intercept first.
    """
    x = np.column_stack([np.ones(len(features)), np.asarray(features, dtype=np.float64)])
    y = np.asarray(labels, dtype=np.float64)
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = sigmoid(x @ w)
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1.0 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict[str, float]]:
    """Per equal-width probability bin: count, mean predicted probability, observed frequency.

    Args:
        probs: ``(N,)`` predicted probabilities.
        labels: ``(N,)`` 0/1 outcomes.
        bins: number of bins over [0, 1].

    Returns:
        One dict per non-empty bin: ``low``, ``high``, ``count``, ``predicted``, ``observed``.
    """
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append({
                "low": b / bins, "high": (b + 1) / bins, "count": int(inside.sum()),
                "predicted": float(p[inside].mean()), "observed": float(y[inside].mean()),
            })  # fmt: skip
    return rows


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE: the count-weighted mean gap between predicted and observed frequency per bin."""
    rows = reliability(probs, labels, bins)
    total = sum(r["count"] for r in rows)
    return float(sum(r["count"] * abs(r["predicted"] - r["observed"]) for r in rows) / total) if total else 0.0


@dataclass(frozen=True)
class ScoreCalibration:
    """A fitted, increasing map from a component's raw score to P(it is the referent).

    Attributes:
        weights: intercept and slope on logit(fine x coarse): used when the coarse pass ran.
        fine_weights: intercept and slope on logit(fine): used without a coarse pass.
        threshold: the best instance's calibrated score under which the answer is "not found".
        stats: how it was fitted and how well it is calibrated (``samples``, ``held_out_ece``, ...).
    """

    weights: tuple[float, float]
    fine_weights: tuple[float, float]
    threshold: float
    stats: dict[str, Any] = field(default_factory=dict)

    def probability(self, fine: np.ndarray, coarse: np.ndarray | None) -> np.ndarray:
        """Calibrated scores.

        Args:
            fine: ``(N,)`` mean fine probability of each component.
            coarse: ``(N,)`` mean coarse probability, or None (or all NaN) without a coarse pass.

        Returns:
            ``(N,)`` float64 probabilities.
        """
        fine = np.asarray(fine, dtype=np.float64)
        if coarse is None or np.isnan(np.asarray(coarse, dtype=np.float64)).all():
            b, w = self.fine_weights
            return sigmoid(b + w * logit(fine))
        b, w = self.weights
        return sigmoid(b + w * logit(raw_score(fine, coarse)))

    def to_metadata(self) -> dict[str, Any]:
        """The JSON object stored under ``metadata["calibration"]``."""
        return {
            "method": "Platt scaling of logit(fine x coarse); logit(fine) without a coarse pass",
            "weights": [round(float(v), 6) for v in self.weights],
            "fine_weights": [round(float(v), 6) for v in self.fine_weights],
            "threshold": round(float(self.threshold), 4),
            **self.stats,
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None, tta: bool | None = None) -> ScoreCalibration | None:
        """The calibration stored in a checkpoint's metadata for a reading, or None if it has none.

        Args:
            metadata: the checkpoint's metadata.
            tta: the reading the scores come from (the flip ensemble or one pass); None: the one the
                metadata asks for. A map fitted on one reading does not fit the other's scores, so a
                reading without its own map (:func:`calibration_key`) gets None.
        """
        metadata = metadata or {}
        entry = metadata.get(calibration_key(metadata, tta))
        if not entry:
            return None
        w, fw = entry["weights"], entry["fine_weights"]
        stats = {k: v for k, v in entry.items() if k not in {"method", "weights", "fine_weights", "threshold"}}
        return cls((float(w[0]), float(w[1])), (float(fw[0]), float(fw[1])), float(entry["threshold"]), stats)


#: Where a checkpoint's metadata may keep maps: the default reading's, then the other reading's.
CALIBRATION_KEYS = ("calibration", "calibration_tta", "calibration_no_tta")


def calibration_key(metadata: dict[str, Any], tta: bool | None) -> str:
    """Where a checkpoint's metadata keeps the map for a reading: ``"calibration"`` for the reading its
    ``"tta"`` asks for (the engine's default), ``"calibration_no_tta"`` / ``"calibration_tta"`` for the other."""
    default = bool(metadata.get("tta", False))
    if tta is None or tta == default:
        return "calibration"
    return "calibration_tta" if tta else "calibration_no_tta"


def fit_calibration(
    fine: np.ndarray, coarse: np.ndarray, labels: np.ndarray, threshold: float, stats: dict[str, Any] | None = None
) -> ScoreCalibration:
    """Fit both maps (with and without the coarse factor) on labelled components.

    Args:
        fine: ``(N,)`` mean fine probabilities.
        coarse: ``(N,)`` mean coarse probabilities (NaN: no coarse pass, the factor is 1).
        labels: ``(N,)`` 1 where the component is the referent.
        threshold: the "not found" threshold to store.
        stats: extra figures to store (samples, ECE, where the data came from).
    """
    w = fit_logistic(logit(raw_score(fine, coarse))[:, None], labels)
    fw = fit_logistic(logit(fine)[:, None], labels)
    return ScoreCalibration((w[0], w[1]), (fw[0], fw[1]), threshold, dict(stats or {}))
