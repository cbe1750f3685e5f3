"""Which scenes share a merged product: one CRS, one pixel size, one area.

A mosaic is one grid: one CRS and one pixel size. Scenes in different UTM zones, or at
0.5 m and 10 m, do not belong on one grid (a 9.5 m scene copied onto a 0.5 m grid is
361 times its pixels, all interpolated), and scenes far apart make a grid that is
almost all empty. So each expression's scenes are first placed in the product CRS
(``--dst-crs``, else each scene's own CRS: nothing is reprojected), then grouped:

- by CRS: one group per CRS (same EPSG code, or the same definition);
- by pixel size: from the finest, a group takes every scene whose pixel (in the product
  CRS) is within :data:`RES_TOLERANCE` (10 %) of the group's finest pixel; the next
  scene starts a new group. 10 % absorbs what reprojection does to a pixel (a UTM scene
  reprojected to the next zone changes by under 1 %), and keeps 0.5 m apart from 1 m;
- each group is named by its CRS and pixel size (:attr:`Group.tag`, ``epsg32633-0.5m``),
  which the merged files carry.

A group's mosaic is skipped when its scenes are far apart (:meth:`Group.sparse_reason`):
the bounding box of the group is more than :data:`SPARSE_RATIO` (4) times the area its
scenes cover (summed; a mosaic of scenes that tile an area is about 1, two diagonal
neighbours 2) **and** the mosaic grid would exceed :data:`SPARSE_MIN_PIXELS`
(16384 x 16384 px, 256 MiB as bytes). Small mosaics are always written, however sparse:
they cost nothing. The per-scene masks and the merged polygons are kept in every case.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.errors import CRSError

#: Pixel sizes within this fraction of a group's finest share the group's grid.
RES_TOLERANCE = 0.10
#: A group whose bounding box exceeds this many times the area of its scenes is sparse...
SPARSE_RATIO = 4.0
#: ... and its mosaic is skipped when its grid would also have more pixels than this.
SPARSE_MIN_PIXELS = 16384 * 16384


@dataclass(frozen=True)
class Placed:
    """One scene's mask as it sits (or will sit, once reprojected) in the product CRS.

    Attributes:
        scene_id: the scene's id.
        mask: its mask COG.
        vector: its vector file.
        crs: the product CRS (a ``rasterio.crs.CRS``).
        res: ``(x, y)`` pixel size in the product CRS (the scene's own when ``native``,
            else the size a reprojection keeps, as ``gdalwarp`` would choose it).
        bounds: ``(left, bottom, right, top)`` in the product CRS.
        native: the mask is already in the product CRS (nothing to reproject).
    """

    scene_id: str
    mask: Path
    vector: Path
    crs: Any
    res: tuple[float, float]
    bounds: tuple[float, float, float, float]
    native: bool

    @property
    def area(self) -> float:
        """The footprint's area in the product CRS's units."""
        left, bottom, right, top = self.bounds
        return (right - left) * (top - bottom)


@dataclass(frozen=True)
class Group:
    """Scenes that share one mosaic grid: one CRS, one pixel size.

    Attributes:
        crs: the product CRS.
        members: the scenes, by scene id (in a mosaic the later one wins where they overlap).
    """

    crs: Any
    members: tuple[Placed, ...]

    @property
    def anchor(self) -> Placed:
        """The member whose grid the mosaic takes: the finest already in the product CRS
        (so those are copied, not resampled), else the finest of all."""
        natives = [m for m in self.members if m.native]
        return min(natives or self.members, key=lambda m: m.res)

    @property
    def res(self) -> tuple[float, float]:
        """The mosaic's pixel size (the anchor's)."""
        return self.anchor.res

    @property
    def crs_tag(self) -> str:
        """The CRS in a file name: ``epsg32633``, else ``crs-`` and a hash of its definition."""
        return crs_tag(self.crs)

    @property
    def tag(self) -> str:
        """The group in a file name: ``epsg32633-0.5m`` (``0.5x0.6m`` for non-square pixels)."""
        return f"{self.crs_tag}-{resolution_text(self.res, self.crs, sep='')}"

    @property
    def crs_name(self) -> str:
        """The CRS as people write it: ``EPSG:32633``, else its PROJ or WKT string."""
        epsg = self.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg is not None else str(self.crs.to_string())

    def grid_shape(self) -> tuple[int, int]:
        """``(width, height)`` of a mosaic grid over every member at :attr:`res`."""
        left, bottom, right, top = self.union()
        res_x, res_y = self.res
        return math.ceil((right - left) / res_x - 1e-6), math.ceil((top - bottom) / res_y - 1e-6)

    def union(self) -> tuple[float, float, float, float]:
        """The bounding box of every member, ``(left, bottom, right, top)``."""
        boxes = np.array([m.bounds for m in self.members])
        return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max())

    def sparse_reason(self) -> str | None:
        """Why the group gets no mosaic (its scenes are far apart), or None.

        Sparse: the bounding box is over :data:`SPARSE_RATIO` times the area the scenes
        cover and the grid would be over :data:`SPARSE_MIN_PIXELS` pixels.
        """
        left, bottom, right, top = self.union()
        ratio = (right - left) * (top - bottom) / max(sum(m.area for m in self.members), 1e-12)
        width, height = self.grid_shape()
        if ratio <= SPARSE_RATIO or width * height <= SPARSE_MIN_PIXELS:
            return None
        return (
            f"its {len(self.members)} scenes are far apart: a mosaic would be {width} x {height} px, "
            f"{ratio:,.0f} times the area they cover, over the limits of {SPARSE_RATIO:g} times "
            f"and {_megapixels(SPARSE_MIN_PIXELS)}"
        )


def crs_tag(crs: Any) -> str:
    """A CRS as a file-name part: ``epsg32633``, else ``crs-`` and 8 hex digits of its WKT."""
    epsg = crs.to_epsg()
    return f"epsg{epsg}" if epsg is not None else f"crs-{hashlib.sha256(crs.to_wkt().encode()).hexdigest()[:8]}"


def resolution_text(res: tuple[float, float], crs: Any, *, sep: str = " ") -> str:
    """A pixel size with its unit: ``0.5 m``, ``9.5 m``, ``0.5x0.6 m``, ``0.0001 deg``.

    Args:
        res: ``(x, y)`` pixel size in the CRS's units.
        crs: the CRS (geographic: degrees; metres when its linear unit is the metre;
            no unit otherwise).
        sep: between the number and the unit (``""`` in file names).
    """
    x, y = (_short(v) for v in res)
    number = x if x == y else f"{x}x{y}"
    unit = "deg" if crs.is_geographic else "m" if _in_metres(crs) else ""
    return f"{number}{sep}{unit}" if unit else number


def group_scenes(placed: Sequence[Placed]) -> list[Group]:
    """Group placed scenes by CRS, then by pixel size (see the module docstring).

    Returns:
        The groups, ordered by CRS tag and pixel size; members by scene id.
    """
    by_crs: dict[str, list[Placed]] = {}
    for scene in placed:
        by_crs.setdefault(crs_tag(scene.crs), []).append(scene)
    groups = []
    for tag in sorted(by_crs):
        for members in _by_resolution(by_crs[tag]):
            ordered = tuple(sorted(members, key=lambda m: m.scene_id))
            groups.append(Group(ordered[0].crs, ordered))
    return groups


def _by_resolution(scenes: Sequence[Placed]) -> list[list[Placed]]:
    """From the finest pixel up: a scene within :data:`RES_TOLERANCE` of a group's first joins it."""
    groups: list[list[Placed]] = []
    for scene in sorted(scenes, key=lambda s: (max(s.res), min(s.res), s.scene_id)):
        if groups and _close(groups[-1][0].res, scene.res):
            groups[-1].append(scene)
        else:
            groups.append([scene])
    return groups


def _close(finest: tuple[float, float], res: tuple[float, float]) -> bool:
    return all(abs(r / f - 1.0) <= RES_TOLERANCE for r, f in zip(res, finest, strict=True))


def _short(value: float) -> str:
    """Four significant digits, positional: ``0.5``, ``9.5``, ``10``, ``0.00001``."""
    return str(np.format_float_positional(float(f"{value:.4g}"), trim="-"))


def _in_metres(crs: Any) -> bool:
    try:
        _, factor = crs.linear_units_factor
    except CRSError:  # a geographic CRS has no linear unit
        return False
    return bool(factor == 1.0)


def _megapixels(pixels: int) -> str:
    side = math.isqrt(pixels)
    return f"{side} x {side} px" if side * side == pixels else f"{pixels / 1e6:.0f} Mpx"
