"""oIoU, mIoU and Precision@X against hand-computed cases and torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_jaccard_index

from geocrobim.training.metrics import COLUMNS, IoUAccumulator, intersection_union, pair_iou, summarize


def _mask(h: int, w: int, rows: slice, cols: slice) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[rows, cols] = True
    return m


def test_hand_computed_pairs() -> None:
    # Pair A: pred 2x5 = 10 px, gt the same rows shifted by 3 columns: I = 2*2 = 4, U = 16 -> 0.25.
    pred_a, gt_a = _mask(4, 8, slice(0, 2), slice(0, 5)), _mask(4, 8, slice(0, 2), slice(3, 8))
    # Pair B: pred covers 7 of gt's 10 pixels and nothing else: I = 7, U = 10 -> exactly 0.7.
    gt_b = _mask(4, 8, slice(0, 2), slice(0, 5))
    pred_b = gt_b.copy()
    pred_b[1, 2:5] = False
    # Pair C: both empty: U = 0 -> IoU 0 (not NaN, not 1).
    empty = np.zeros((4, 8), bool)
    # Pair D: perfect.
    gt_d = _mask(4, 8, slice(2, 4), slice(6, 8))
    pred = np.stack([pred_a, pred_b, empty, gt_d])
    gt = np.stack([gt_a, gt_b, empty, gt_d])

    inter, union = intersection_union(pred, gt)
    assert inter.tolist() == [4, 7, 0, 4]
    assert union.tolist() == [16, 10, 0, 4]
    assert pair_iou(inter, union).tolist() == [0.25, 0.7, 0.0, 1.0]

    m = summarize(inter, union)
    assert m["oIoU"] == pytest.approx(15 / 30)
    assert m["mIoU"] == pytest.approx((0.25 + 0.7 + 0.0 + 1.0) / 4)
    # ">=": the pair at exactly 0.7 counts for P@0.7 but not P@0.8.
    assert m["P@0.5"] == 0.5 and m["P@0.6"] == 0.5 and m["P@0.7"] == 0.5
    assert m["P@0.8"] == 0.25 and m["P@0.9"] == 0.25
    assert m["pairs"] == 4
    assert list(COLUMNS) == ["P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9", "oIoU", "mIoU"]


def test_iou_exactly_half_counts_at_half() -> None:
    m = summarize(np.array([1, 5]), np.array([2, 10]))
    assert m["P@0.5"] == 1.0 and m["P@0.6"] == 0.0


def test_empty_prediction_on_nonempty_target_is_zero() -> None:
    gt = _mask(6, 6, slice(1, 3), slice(1, 3))
    m = summarize(*intersection_union(np.zeros_like(gt), gt))
    assert m["oIoU"] == 0.0 and m["mIoU"] == 0.0 and m["P@0.5"] == 0.0


def test_no_pairs_reports_zeros() -> None:
    m = IoUAccumulator().compute()
    assert m["pairs"] == 0 and m["oIoU"] == 0.0 and m["mIoU"] == 0.0


def test_accumulator_matches_torchmetrics_and_accepts_torch() -> None:
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(6, 16, 16, generator=gen) > 0.5
    gt = torch.rand(6, 16, 16, generator=gen) > 0.6
    acc = IoUAccumulator()
    acc.update(pred[:4], gt[:4])  # torch batch
    acc.update(pred[4:].numpy(), gt[4:].numpy())  # numpy batch
    assert len(acc) == 6
    out = acc.compute()
    # oIoU = micro Jaccard over all pixels of all pairs; mIoU = mean of per-pair Jaccard.
    assert out["oIoU"] == pytest.approx(binary_jaccard_index(pred.int(), gt.int()).item(), abs=1e-6)
    per_pair = [binary_jaccard_index(p.int(), g.int()).item() for p, g in zip(pred, gt)]
    assert out["mIoU"] == pytest.approx(float(np.mean(per_pair)), abs=1e-6)
    acc.reset()
    assert len(acc) == 0


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        intersection_union(np.zeros((2, 4, 4), bool), np.zeros((2, 4, 5), bool))
