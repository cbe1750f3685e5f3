"""Shared constants and mask generators of the vector tests (importable from test modules)."""

from __future__ import annotations

import numpy as np
from affine import Affine

#: A UTM 33N grid with 0.5 m pixels and a north-up, non-identity transform.
UTM_CRS = "EPSG:32633"
UTM_TRANSFORM = Affine(0.5, 0.0, 500_100.0, 0.0, -0.5, 5_000_200.0)

def blobs(shape: tuple[int, int], count: int, seed: int = 0) -> np.ndarray:
    """A uint8 mask of ``count`` random jagged rectangles, some with holes (0/1 values)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(count):
        h, w = rng.integers(6, 40, 2)
        y, x = rng.integers(0, shape[0] - h), rng.integers(0, shape[1] - w)
        for row in range(h):
            x0 = x + rng.integers(0, 3)
            mask[y + row, x0 : x + w - rng.integers(0, 3)] = 1
        if h > 12 and w > 12 and rng.random() < 0.5:
            mask[y + h // 2 - 2 : y + h // 2 + 2, x + w // 2 - 2 : x + w // 2 + 2] = 0  # a hole
    return mask
