"""Referring-segmentation metrics exactly as the LAVT/RMSIN ``test.py``.

Per (image, expression) pair: ``I = sum(pred & gt)``, ``U = sum(pred | gt)``,
``IoU = I / U`` and **IoU = 0 when U = 0**. Over a test set:

- ``oIoU`` (overall IoU) = ``sum(I) / sum(U)``;
- ``mIoU`` (mean IoU) = mean of the per-pair IoU;
- ``P@X`` for X in 0.5 ... 0.9 = fraction of pairs with ``IoU >= X`` (greater *or equal*).

Published numbers are computed at 480 x 480 (masks resized with nearest), so the
callers resize before they count. The functions take numpy arrays or torch tensors
alike (only ``&``, ``|``, ``reshape`` and ``sum`` are used), so counting can stay on
the GPU and only the per-pair counts travel to the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: IoU thresholds of the paper's Precision@X columns.
PRECISION_THRESHOLDS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)

#: Column order of the paper's tables.
COLUMNS: tuple[str, ...] = tuple(f"P@{t:g}" for t in PRECISION_THRESHOLDS) + ("oIoU", "mIoU")


def intersection_union(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair intersection and union pixel counts.

    Args:
        pred: predicted masks, bool (N, H, W) or (H, W), numpy or torch.
        target: ground-truth masks of the same shape, bool.

    Returns:
        ``(I, U)``, two int64 arrays of shape (N,).
    """
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.ndim == 2:
        pred, target = pred[None], target[None]
    n = pred.shape[0]
    pred, target = pred.reshape(n, -1) > 0, target.reshape(n, -1) > 0
    inter = (pred & target).sum(1)
    union = (pred | target).sum(1)
    return _to_int64(inter), _to_int64(union)


def pair_iou(intersections: np.ndarray, unions: np.ndarray) -> np.ndarray:
    """IoU of each pair, 0 where the union is empty (both masks empty)."""
    inter = np.asarray(intersections, dtype=np.float64)
    union = np.asarray(unions, dtype=np.float64)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def summarize(
    intersections: np.ndarray,
    unions: np.ndarray,
    thresholds: tuple[float, ...] = PRECISION_THRESHOLDS,
) -> dict[str, float]:
    """The paper's columns from per-pair counts.

    Args:
        intersections: (N,) per-pair intersection counts.
        unions: (N,) per-pair union counts.
        thresholds: IoU thresholds of the ``P@X`` entries.

    Returns:
        ``{"P@0.5": ..., ..., "P@0.9": ..., "oIoU": ..., "mIoU": ..., "pairs": N}``; every
        ratio is 0.0 when there are no pairs (or the total union is 0).
    """
    inter = np.asarray(intersections, dtype=np.int64).ravel()
    union = np.asarray(unions, dtype=np.int64).ravel()
    if inter.shape != union.shape:
        raise ValueError(f"{inter.size} intersections but {union.size} unions")
    ious = pair_iou(inter, union)
    n = ious.size
    out: dict[str, float] = {}
    for t in thresholds:
        # Plain ">=" as the reference: I / U is correctly rounded, so an exact 7/10 equals the literal 0.7.
        out[f"P@{t:g}"] = float(np.count_nonzero(ious >= t) / n) if n else 0.0
    total_union = int(union.sum())
    out["oIoU"] = float(inter.sum() / total_union) if total_union else 0.0
    out["mIoU"] = float(ious.mean()) if n else 0.0
    out["pairs"] = float(n)
    return out


class IoUAccumulator:
    """Collects per-pair ``I`` and ``U`` over batches and reports the paper's columns.

    Example:
        >>> acc = IoUAccumulator()
        >>> acc.update(pred_masks, gt_masks)   # (B, H, W) bool, numpy or torch
        >>> acc.compute()["oIoU"]
    """

    def __init__(self) -> None:
        self._inter: list[np.ndarray] = []
        self._union: list[np.ndarray] = []

    def update(self, pred: Any, target: Any) -> None:
        """Add a batch of predicted and ground-truth masks (bool, same shape)."""
        inter, union = intersection_union(pred, target)
        self.update_counts(inter, union)

    def update_counts(self, intersections: Any, unions: Any) -> None:
        """Add per-pair counts computed elsewhere (e.g. gathered from other processes)."""
        self._inter.append(_to_int64(intersections).ravel())
        self._union.append(_to_int64(unions).ravel())

    @property
    def intersections(self) -> np.ndarray:
        """(N,) intersection counts so far."""
        return np.concatenate(self._inter) if self._inter else np.zeros(0, np.int64)

    @property
    def unions(self) -> np.ndarray:
        """(N,) union counts so far."""
        return np.concatenate(self._union) if self._union else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return sum(a.size for a in self._inter)

    def compute(self) -> dict[str, float]:
        """``summarize`` of everything added so far."""
        return summarize(self.intersections, self.unions)

    def reset(self) -> None:
        """Forget every pair."""
        self._inter.clear()
        self._union.clear()


def _to_int64(values: Any) -> np.ndarray:
    """A numpy int64 array from a numpy array, a torch tensor (any device) or a list."""
    if hasattr(values, "detach"):  # torch.Tensor, without importing torch here
        values = values.detach().cpu().numpy()
    return np.asarray(values).astype(np.int64, copy=False)
