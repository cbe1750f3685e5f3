"""Scene-level grounding, coarse half: where in the scene is the object worth looking for?

A referring expression names one object in the whole scene, but a window sees a
few hundred metres. The coarse pass runs the same model over a downsampled view of
the whole scene (a few tiles, read through GDAL's overviews or a decimated read) so
that relations such as "north of the river" have their context. Its probability map
gives candidate regions; the fine pass then reads at the reading GSD only the
windows near a candidate. See docs/grounding.md for the algorithm and its limits.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.windows import Window

from geocrobim.inference.read_plan import ReadPlan
from geocrobim.raster import blend_weights, make_grid

logger = logging.getLogger(__name__)

#: The coarse view squeezes the scene's longer side into one window this many model tiles
#: wide (512 px for a 256 px model). One window sees the whole scene at once, so relations
#: ("north of the river", "the southernmost") are judged against all of it: on the sample
#: scene this found the README's warehouse where nine overlapping 256 px windows did not
#: (docs/grounding.md). The model is fully convolutional; 2x its input side is well inside
#: what it handles.
COARSE_TILES = 2
#: Coarsest GSD of the coarse view: the top of the model's training range (RISBench, 0.1-30 m).
MAX_COARSE_GSD_M = 30.0
#: The coarse pass runs only if its view is at least this much coarser than the fine pass,
#: i.e. the scene is more than one coarse window (two fine windows) wide at the reading GSD.
#: It costs one call of a double-size window, and it is the only pass that sees relations
#: across the whole scene, so it runs even where it saves no fine windows.
MIN_COARSE_RATIO = 1.0
#: A coarse pixel is a candidate at this probability...
CANDIDATE_THRESHOLD = 0.5
#: ... or at this fraction of the expression's coarse peak, whichever is lower ...
PEAK_FRACTION = 0.5
#: ... but never below this: a peak under it means the coarse pass found nothing.
MIN_PEAK = 0.1


@dataclass(frozen=True)
class CoarseGrid:
    """The downsampled view of the scene the coarse pass runs on.

    Attributes:
        factor: source pixels per coarse pixel (both axes).
        width: coarse columns.
        height: coarse rows.
        tile: window side in coarse pixels (:data:`COARSE_TILES` model tiles).
        windows: coarse-grid windows, row-major (one, unless the scene is so large that
            the coarse GSD hit :data:`MAX_COARSE_GSD_M`).
        overlap: overlap of neighbouring windows, in coarse pixels.
    """

    factor: float
    width: int
    height: int
    tile: int
    windows: list[Window]
    overlap: int = 0

    def source_window(self, window: Window) -> Window:
        """The source-pixel window a coarse window covers (fractional offsets are fine for reads)."""
        f = self.factor
        return Window(window.col_off * f, window.row_off * f, window.width * f, window.height * f)

    def transform(self, scene_transform: Affine) -> Affine:
        """Pixel-to-CRS transform of the coarse grid (the scene's, with pixels ``factor`` times larger)."""
        t, f = scene_transform, self.factor
        return Affine(t.a * f, t.b * f, t.c, t.d * f, t.e * f, t.f)  # = t @ scale(f), without the operator


def plan_coarse(width: int, height: int, plan: ReadPlan, *, always: bool = False) -> CoarseGrid | None:
    """The coarse grid for a scene, or None when a coarse pass is not worth it.

    Args:
        width: scene columns.
        height: scene rows.
        plan: the fine pass's reading plan (tile, overlap, footprint, GSDs).
        always: a grid even for a scene only a few windows wide, read then at the reading GSD
            (never finer): the view the river is looked for on (:mod:`geocrobim.inference.river`).
    """
    tile = COARSE_TILES * plan.tile
    factor = max(width, height) / tile
    fine_factor = plan.footprint / plan.tile
    if plan.source_gsd_m:
        # Do not go coarser than the model ever saw; big scenes get more coarse tiles instead.
        factor = min(factor, max(MAX_COARSE_GSD_M / plan.source_gsd_m, fine_factor))
    if factor < MIN_COARSE_RATIO * fine_factor:
        if not always:
            return None
        factor = fine_factor
    cw, ch = max(1, math.ceil(width / factor)), max(1, math.ceil(height / factor))
    overlap = COARSE_TILES * plan.overlap
    return CoarseGrid(factor, cw, ch, tile, make_grid(cw, ch, tile, overlap), overlap)


class CoarseMap:
    """In-memory blend of the coarse pass's probabilities.

    The coarse grid is a few tiles, so unlike the fine pass it fits in memory:
    ``(E, height, width)`` float32.
    """

    def __init__(self, grid: CoarseGrid, expressions: int) -> None:
        self.grid = grid
        self.acc = np.zeros((expressions, grid.height, grid.width), dtype=np.float32)
        self.weight = np.zeros((grid.height, grid.width), dtype=np.float32)
        self.kernel = blend_weights(grid.tile, grid.overlap)

    def add(self, indices: list[int], probs: np.ndarray, valid: np.ndarray) -> None:
        """Pipeline sink: blend a batch of ``(B, E, tile, tile)`` probabilities."""
        for index, prob, ok in zip(indices, probs, valid, strict=True):
            window = self.grid.windows[index]
            r, c = int(window.row_off), int(window.col_off)
            h, w = min(self.grid.tile, self.grid.height - r), min(self.grid.tile, self.grid.width - c)
            weight = self.kernel[:h, :w] * ok[:h, :w]
            self.acc[:, r : r + h, c : c + w] += prob[:, :h, :w] * weight
            self.weight[r : r + h, c : c + w] += weight

    def probabilities(self) -> np.ndarray:
        """``(E, height, width)`` blended probabilities; 0 where no valid pixel was seen."""
        return np.divide(self.acc, self.weight, out=np.zeros_like(self.acc), where=self.weight > 0)


def candidates(coarse: np.ndarray) -> np.ndarray:
    """Candidate regions per expression from the coarse probabilities.

    Args:
        coarse: ``(E, h, w)`` coarse probabilities.

    Returns:
        ``(E, h, w)`` bool. An expression whose peak stays under :data:`MIN_PEAK` has none.
    """
    peaks = coarse.reshape(coarse.shape[0], -1).max(axis=1) if coarse.size else np.zeros(coarse.shape[0])
    cutoff = np.maximum(MIN_PEAK, np.minimum(CANDIDATE_THRESHOLD, PEAK_FRACTION * peaks))
    found = coarse >= cutoff[:, None, None]
    found[peaks < MIN_PEAK] = False
    return found


def select_windows(windows: list[Window], candidate: np.ndarray, grid: CoarseGrid, margin: float) -> list[int]:
    """Indices of the fine windows within ``margin`` source pixels of a candidate.

    Args:
        windows: fine windows in source pixels.
        candidate: ``(h, w)`` bool candidate mask on the coarse grid (any expression).
        grid: the coarse grid.
        margin: dilation in source pixels (the coarse map is blurry; objects reach further).

    Returns:
        Sorted indices into ``windows``.
    """
    # Summed-area table: "any candidate inside this box" in O(1) per window.
    table = np.zeros((candidate.shape[0] + 1, candidate.shape[1] + 1), dtype=np.int64)
    table[1:, 1:] = candidate.astype(np.int64).cumsum(0).cumsum(1)
    f = grid.factor
    keep: list[int] = []
    for index, w in enumerate(windows):
        c0 = int(np.clip(math.floor((w.col_off - margin) / f), 0, grid.width))
        c1 = int(np.clip(math.ceil((w.col_off + w.width + margin) / f), 0, grid.width))
        r0 = int(np.clip(math.floor((w.row_off - margin) / f), 0, grid.height))
        r1 = int(np.clip(math.ceil((w.row_off + w.height + margin) / f), 0, grid.height))
        if r1 > r0 and c1 > c0 and table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0] > 0:
            keep.append(index)
    return keep
