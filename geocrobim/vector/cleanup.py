"""Vectorised polygon clean-up: merge block pieces, map coordinates, holes, small parts, simplify.

Every function takes and returns a (N,) shapely array; none loops over features in Python.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from affine import Affine

from geocrobim.vector.blocks import apply_affine


def merge_border_pieces(border: np.ndarray) -> np.ndarray:
    """One polygon per object from the pieces that reach an internal block edge.

    Only those pieces can belong to an object split by the block grid. They are grouped by
    intersection (an STRtree query) and each group is unioned: all two-piece groups (most
    of them) in one vectorised ``shapely.union`` call, bigger groups (objects on a block
    corner) one by one. One cascaded union of every border piece would be simpler but is
    ~5x slower, as it keeps overlaying ever-bigger multipolygons. Pieces that meet only at a
    corner come out of the union as separate parts, which keeps GDAL's 4-connectivity.
    Coordinates are integer pixel corners, so the union is exact.

    Args:
        border: (N,) polygons in pixel space.

    Returns:
        (M,) polygons in pixel space, M <= N.
    """
    if not len(border):
        return border
    group = _groups(border)
    order = np.argsort(group, kind="stable")
    sizes = np.bincount(group)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    single = border[order[starts[sizes == 1]]]
    first, second = order[starts[sizes == 2]], order[starts[sizes == 2] + 1]
    pairs = shapely.union(border[first], border[second])
    many = [shapely.union_all(border[order[s : s + n]]) for s, n in zip(starts, sizes) if n > 2]
    merged = shapely.get_parts(np.concatenate([pairs, np.asarray(many, dtype=object)]))
    # The cut along a block border leaves collinear vertices; tolerance 0 drops exactly those.
    merged = shapely.simplify(merged, 0.0)
    return np.concatenate([single, merged])


def _groups(polygons: np.ndarray) -> np.ndarray:
    """(N,) group label per polygon: connected components of the "intersects" graph."""
    left, right = shapely.STRtree(polygons).query(polygons, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    label = np.arange(len(polygons))
    while True:  # min-label propagation with pointer jumping; a few rounds for small groups
        old = label.copy()
        np.minimum.at(label, left, label[right])
        np.minimum.at(label, right, label[left])
        label = label[label]
        if np.array_equal(label, old):
            break
    return np.unique(label, return_inverse=True)[1]


def to_map(pixel_polygons: np.ndarray, transform: Affine) -> np.ndarray:
    """Polygons from pixel space (col, row of pixel corners) to the raster's map coordinates."""
    if transform.is_identity or not len(pixel_polygons):
        return pixel_polygons
    return shapely.transform(pixel_polygons, lambda xy: apply_affine(xy, transform))


def fill_holes(polygons: np.ndarray, below: float, area_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Fill the holes whose area is under ``below``.

    Args:
        polygons: (N,) polygons.
        below: holes with a smaller area are filled; 0 keeps every hole.
        area_of: areas (R,) of (R,) polygons, in the unit of ``below`` (e.g. m2).

    Returns:
        (N,) polygons.
    """
    if below <= 0 or not len(polygons):
        return polygons
    holes, owner = interior_rings(polygons)
    small = area_of(holes) < below
    if not small.any():
        return polygons
    shells = shapely.get_exterior_ring(polygons)
    # Rebuild each polygon from its shell and the holes it keeps; shapely.polygons with
    # indices treats the first ring of each index as the shell.
    rings = np.concatenate([shells, shapely.get_exterior_ring(holes[~small])])
    index = np.concatenate([np.arange(len(polygons)), owner[~small]])
    order = np.argsort(index, kind="stable")
    return shapely.polygons(rings[order], indices=index[order])


def interior_rings(polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All holes of ``polygons`` as polygons (for area measures), and their owner's index.

    Returns:
        ((R,) hole polygons, (R,) int index into ``polygons``).
    """
    rings, owner = shapely.get_rings(polygons, return_index=True)
    first = np.ones(len(owner), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]  # each polygon's first ring is its shell
    return shapely.polygons(rings[~first]), owner[~first]


def simplify(polygons: np.ndarray, tolerance: float) -> np.ndarray:
    """Topology-preserving Douglas-Peucker simplification in map units.

    ``preserve_topology=True`` keeps every polygon valid (no self-intersection, holes stay
    inside). Our polygons are separate connected components that share no edges, so a
    coverage simplification (GEOS >= 3.12) would have nothing shared to keep consistent.
    """
    if tolerance <= 0 or not len(polygons):
        return polygons
    return shapely.simplify(polygons, tolerance, preserve_topology=True)
