"""Scene-level grounding, fine half: score the connected components and keep the referent.

The thresholded, blended fine probabilities are vectorised (one polygon per
4-connected component, block by block, so memory stays bounded). Each component is
scored as

    score = mean fine probability inside it  x  mean coarse probability over it

The first factor says how sure the model is at full detail; the second whether the
scene-wide view, which saw the context the sentence talks about, agreed. Without a
coarse pass the score is the fine factor alone. ``--instances best`` keeps the
highest score, ``--instances all`` every component. The sums run over blocks of the
probability GeoTIFF with the components rasterised per block (labels), so neither the
scene nor a huge component is ever held whole.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import rasterio
import shapely
import shapely.geometry
from affine import Affine
from rasterio import features
from rasterio.windows import Window

from geocrobim.choices import Instances
from geocrobim.inference.labels import Edges
from geocrobim.inference.scene_words import SceneWords
from geocrobim.vector.table import PolygonTable

logger = logging.getLogger(__name__)



def fine_means(prob_path: str | os.PathLike[str], layers: Sequence[np.ndarray], block_size: int = 1024) -> list[np.ndarray]:
    """Mean blended probability (0-1) inside each component, per expression.

    The components' pixels come as runs (:meth:`Edges.spans`); the probability GeoTIFF
    is read in full-width row bands of about ``block_size ** 2`` pixels, and only the
    columns the band's runs reach. The runs' pixels are gathered and summed per
    component: the work follows the components' area, not the scene's.

    Args:
        prob_path: the stitched probability GeoTIFF (band ``e + 1`` for expression ``e``, uint8 0-255).
        layers: per expression, (N_e,) unsimplified polygons from the polygoniser, in the
            raster's map coordinates.
        block_size: the reads hold about ``block_size ** 2`` pixels (bounded memory).

    Returns:
        Per expression, (N_e,) float64 means (0 for a component with no pixel).
    """
    sums = [np.zeros(len(g) + 1) for g in layers]
    counts = [np.zeros(len(g) + 1) for g in layers]
    with rasterio.open(prob_path) as src:
        width, height = src.width, src.height
        band_rows = max(1, min(height, block_size * block_size // max(width, 1)))
        for e, geoms in enumerate(layers):
            if not len(geoms):
                continue
            row, x0, x1, label = Edges.from_geometries(geoms, src.transform).spans()
            x0, x1 = np.clip(x0, 0, width), np.clip(x1, 0, width)
            bounds = np.searchsorted(row, np.arange(0, height + band_rows, band_rows))
            for r0, lo, hi in zip(range(0, height, band_rows), bounds[:-1], bounds[1:], strict=False):
                if lo == hi:
                    continue
                rows, starts, stops, ids = row[lo:hi] - r0, x0[lo:hi], x1[lo:hi], label[lo:hi]
                c0, c1 = int(starts.min()), int(stops.max())
                r1 = min(height, r0 + band_rows)
                probs = src.read(e + 1, window=Window(c0, r0, c1 - c0, r1 - r0)).ravel()
                lengths = stops - starts
                # Flat index of every run pixel: the run's first pixel plus 0, 1, ... along it.
                first = rows * (c1 - c0) + (starts - c0)
                offsets = np.cumsum(lengths) - lengths
                index = np.repeat(first - offsets, lengths) + np.arange(int(lengths.sum()))
                sums[e] += np.bincount(np.repeat(ids, lengths), weights=probs[index], minlength=len(geoms) + 1)
                counts[e] += np.bincount(ids, weights=lengths, minlength=len(geoms) + 1)
    return [np.divide(s[1:], c[1:] * 255.0, out=np.zeros(len(s) - 1), where=c[1:] > 0) for s, c in zip(sums, counts, strict=True)]


def coarse_means(geoms: np.ndarray, coarse: np.ndarray, transform: Affine) -> np.ndarray:
    """Mean coarse probability over each component's coarse pixels (all touched).

    Args:
        geoms: (N,) polygons in map coordinates.
        coarse: ``(h, w)`` coarse probabilities of one expression.
        transform: the coarse grid's transform.

    Returns:
        (N,) float64 means.
    """
    if not len(geoms):
        return np.zeros(0)
    # all_touched: a component smaller than a coarse pixel still gets that pixel's support.
    # Components overlapping the same coarse pixel share it; the last one burnt wins there,
    # which only matters for components closer together than a coarse pixel.
    labels = features.rasterize(
        ((g, i + 1) for i, g in enumerate(geoms)),
        out_shape=coarse.shape,
        transform=transform,
        fill=0,
        all_touched=True,
        dtype="int32",
    )
    sums = np.bincount(labels.ravel(), weights=coarse.ravel().astype(np.float64), minlength=len(geoms) + 1)
    counts = np.bincount(labels.ravel(), minlength=len(geoms) + 1)
    return np.divide(sums[1:], counts[1:], out=np.zeros(len(geoms)), where=counts[1:] > 0)


def best_component(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The engine's ``--instances best`` on one in-memory probability map: its likeliest component.

    The same rule as a scene without a coarse pass: the map is thresholded, cut into
    4-connected components (the polygoniser's connectivity) and only the component with
    the highest mean probability is kept (the first in raster order on a tie). Used to
    score held-out chips as ``segment`` would answer them (``geocrobim evaluate --instances best``).

    Args:
        prob: (H, W) probabilities in [0, 1].
        threshold: pixels above it are foreground (0.5: the argmax of two classes).

    Returns:
        (H, W) bool mask of the kept component; all False when nothing passes the threshold.
    """
    labels, _, means = _components(prob, threshold)
    return labels == int(np.argmax(means)) + 1 if len(means) else labels > 0


def chip_scene_wide(prob: np.ndarray, words: SceneWords, threshold: float = 0.5) -> np.ndarray:
    """:func:`pick_scene_wide` on one in-memory probability map, a chip read as a whole scene.

    Args:
        prob: (H, W) probabilities of ``words.model_text`` in [0, 1], north up.
        words: the sentence's scene-wide words (a rank or a part of the image).
        threshold: pixels above it are foreground.

    Returns:
        (H, W) bool mask of the picked component; all False when no candidate is at the asked position.
    """
    # pixel units, row 0 at the top: a north-up "map" whose northing grows upwards, as a scene's does
    transform = Affine(1.0, 0.0, 0.0, 0.0, -1.0, float(prob.shape[0]))
    labels, shapes, means = _components(prob, threshold, transform)
    if not len(means):
        return labels > 0
    geometries = np.empty(len(shapes), dtype=object)
    geometries[:] = [shapely.geometry.shape(g) for g in shapes]
    columns = {"score": means, "area_m2": shapely.area(geometries), "component": np.arange(len(shapes))}
    kept, _ = pick_scene_wide(PolygonTable(geometries, columns), words, transform, prob.shape, "best")
    if not len(kept):
        return np.zeros(prob.shape, dtype=bool)
    return labels == int(kept.columns["component"][0]) + 1


def _components(
    prob: np.ndarray, threshold: float, transform: Affine | None = None
) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """4-connected components of ``prob > threshold``: (H, W) int32 labels (0 outside, ``i + 1``
    for component ``i``), their GeoJSON-like shapes through ``transform``, and (N,) mean probabilities."""
    fg = prob > threshold
    if not fg.any():
        return np.zeros(prob.shape, dtype=np.int32), [], np.zeros(0)
    transform = Affine.identity() if transform is None else transform
    found = features.shapes(fg.astype(np.uint8), mask=fg, connectivity=4, transform=transform)
    shapes = [geom for geom, value in found if value == 1]
    labels = features.rasterize(
        ((g, i + 1) for i, g in enumerate(shapes)), out_shape=fg.shape, fill=0, dtype="int32", transform=transform
    )
    sums = np.bincount(labels.ravel(), weights=prob.ravel().astype(np.float64), minlength=len(shapes) + 1)[1:]
    counts = np.bincount(labels.ravel(), minlength=len(shapes) + 1)[1:]
    return labels, shapes, sums / np.maximum(counts, 1)


def arbitrate(table: PolygonTable, instances: Instances) -> PolygonTable:
    """Rank components by score; keep the best one or all of them.

    Args:
        table: the components, with a ``score`` column.
        instances: ``"best"`` or ``"all"``.

    Returns:
        The kept rows, best first (ties by fine probability, then in their original order;
        NaN scores last), with a 1-based ``rank`` column before the others.
    """
    order = by_score(table)
    if instances == "best":
        order = order[:1]
    kept = table.take(order)
    return kept.with_columns({"rank": np.arange(1, len(kept) + 1, dtype=np.int32)}, first=True)


def by_score(table: PolygonTable, rows: np.ndarray | None = None) -> np.ndarray:
    """Row indices (of ``rows``, default all) by descending score, ties by descending fine probability.

    Ties are common: a component too small for the coarse view has a coarse factor of ~0, so its
    score is the floor of the calibrated map (logits are clipped), whatever the fine pass says.
    The fine probability then decides; equal on both, the polygoniser's order stays (stable sort).
    """
    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    score = np.asarray(table.columns["score"], dtype=np.float64)[rows]
    fine = table.columns.get("fine_prob")
    fine = np.zeros(len(rows)) if fine is None else np.asarray(fine, dtype=np.float64)[rows]
    # lexsort's last key is the primary one; negated for descending order, NaN sorts last.
    return rows[np.lexsort((-np.nan_to_num(fine, nan=-np.inf), -score))]


#: A component is one of the candidates that scene-wide words rank when its score reaches this share
#: of the best candidate's: a faint false alarm at the scene's edge must not become "the easternmost".
#: Chosen on the 39 scene-wide expressions of sample_data and synthetic seeds 1000-1010
#: (docs/grounding.md, "Measured: scene-wide words").
MEMBER_SHARE = 0.3
#: ... and when its area reaches this share of the largest such candidate's: a speck or a fragment
#: of an object is no candidate for "the smallest" or "the westernmost".
MEMBER_AREA_SHARE = 0.25


def pick_scene_wide(
    table: PolygonTable, words: SceneWords, transform: Affine, shape: tuple[int, int], instances: Instances
) -> tuple[PolygonTable, str]:
    """Resolve scene-wide words over the scene's candidates (:mod:`geocrobim.inference.scene_words`).

    The candidates are the components scoring at least :data:`MEMBER_SHARE` of the best score,
    at least :data:`MEMBER_AREA_SHARE` of the largest of those in area, and, for a region, whose
    centroid lies in that third of the raster (the image's left, top, ...).
    A rank orders them by easting, northing or area and takes the asked position.

    Args:
        table: the components of the model's text, with ``score`` and ``area_m2`` columns.
        words: the sentence's scene-wide words (``words.scene_wide`` is true).
        transform: the raster's pixel-to-map transform (regions are thirds of the image).
        shape: the raster's ``(height, width)``.
        instances: ``"best"`` keeps the picked component; ``"all"`` every candidate, the picked
            one first, then the others by score.

    Returns:
        The kept rows with a 1-based ``rank`` column (empty when no candidate is at the asked
        position), and one line saying what was resolved, for the log and the result's note.
    """
    score = np.asarray(table.columns["score"], dtype=np.float64)
    area = np.asarray(table.columns["area_m2"], dtype=np.float64)
    member = np.isfinite(score) & (score >= MEMBER_SHARE * (np.nanmax(score) if len(score) else 0.0))
    member &= area >= MEMBER_AREA_SHARE * (area[member].max() if member.any() else 0.0)
    x, y = centroids(table.geometries)
    if words.region is not None:
        col, row = ~transform @ (x, y)
        height, width = shape
        member &= _in_third(np.asarray(col) / width, words.region[0], "left", "right")
        member &= _in_third(np.asarray(row) / height, words.region[1], "top", "bottom")
    candidates = np.flatnonzero(member)
    ranked = by_score(table, candidates)
    chosen = ranked[:1]
    if words.rank is not None:
        value = {"x": x, "y": y, "size": area}[words.rank.key]
        order = candidates[np.argsort(-value[candidates] if words.rank.descending else value[candidates], kind="stable")]
        chosen = order[words.rank.position : words.rank.position + 1]
    what = f"{words.describe()}: {len(candidates)} candidate(s) of '{words.model_text}'"
    if instances == "all" and len(chosen):
        chosen = np.concatenate([chosen, ranked[ranked != chosen[0]]])
    kept = table.take(chosen)
    return kept.with_columns({"rank": np.arange(1, len(kept) + 1, dtype=np.int32)}, first=True), what


def centroids(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` x and ``(N,)`` y of the polygons' centroids, in their CRS."""
    points = [g.centroid for g in geometries]
    return np.array([p.x for p in points], dtype=np.float64), np.array([p.y for p in points], dtype=np.float64)


def _in_third(position: np.ndarray, side: str | None, low: str, high: str) -> np.ndarray:
    """Whether each relative position (0-1 across the image) lies in the named third of that axis."""
    if side is None:
        return np.ones(len(position), dtype=bool)
    if side == low:
        return position < 1 / 3
    if side == high:
        return position >= 2 / 3
    return (position >= 1 / 3) & (position < 2 / 3)


def above(ranked: PolygonTable, threshold: float) -> PolygonTable:
    """The rows of a ranked table whose score reaches ``threshold`` (calibrated "not found" below it)."""
    keep = np.nonzero(np.asarray(ranked.columns["score"], dtype=np.float64) >= threshold)[0]
    return ranked if len(keep) == len(ranked) else ranked.take(keep)


def centre(geometry: Any) -> tuple[float, float]:
    """A point inside the polygon (its centroid when that lies inside), in its CRS."""
    point = geometry.centroid if geometry.contains(geometry.centroid) else geometry.representative_point()
    return float(point.x), float(point.y)
