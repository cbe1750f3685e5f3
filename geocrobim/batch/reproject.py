"""Scene masks in a product CRS and on a group's grid, for the merged mosaics.

:func:`place` says where a mask sits in the product CRS and at which pixel size (no
pixel is read); :func:`group_grid` picks the grid of a :class:`~.groups.Group`;
:func:`in_crs` returns the mask itself when it is in the product CRS, else its
reprojection (nearest neighbour, snapped onto the grid) under ``merged/warped/``,
rebuilt only when the scene's mask is newer.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import rasterio

from geocrobim.batch.groups import Group, Placed

#: The masks' nodata (geocrobim.inference.masks.MASK_NODATA; not imported: it pulls in torch).
MASK_NODATA = 255

#: ``(x0, y0, res_x, res_y)``: a pixel corner and the pixel size of a mosaic grid.
Grid = tuple[float, float, float, float]


def place(scene_id: str, mask: Path, vector: Path, target: Any | None) -> Placed:
    """Where a scene's mask sits in ``target`` (None: its own CRS), and its pixel size there.

    Raises:
        rasterio.errors.RasterioIOError: the mask cannot be read.
    """
    from rasterio.warp import calculate_default_transform

    with rasterio.open(mask) as src:
        if target is None or src.crs == target:
            return Placed(scene_id, mask, vector, src.crs, src.res, tuple(src.bounds), native=True)
        transform, width, height = calculate_default_transform(src.crs, target, src.width, src.height, *src.bounds)
    bounds = (transform.c, transform.f + height * transform.e, transform.c + width * transform.a, transform.f)
    return Placed(scene_id, mask, vector, target, (transform.a, -transform.e), bounds, native=False)


def group_grid(group: Group) -> Grid:
    """The group's grid: its anchor's pixel corner and size (see :attr:`Group.anchor`)."""
    left, _, _, top = group.anchor.bounds
    return left, top, *group.anchor.res


def in_crs(scene: Placed, warped: Path, grid: Grid) -> Path:
    """The scene's mask if it is in the product CRS, else its reprojection onto ``grid``
    (cached under ``warped/<scene-id>/`` by modification time)."""
    if scene.native:
        return scene.mask
    out = warped / scene.scene_id / scene.mask.name
    if out.exists() and out.stat().st_mtime >= scene.mask.stat().st_mtime:
        with rasterio.open(out) as done:
            if done.crs == scene.crs and _on_grid(done.transform, grid):
                return out
    out.parent.mkdir(parents=True, exist_ok=True)
    _warp_mask(scene.mask, out, scene.crs, grid)
    return out


def _on_grid(transform: Any, grid: Grid) -> bool:
    x0, y0, res_x, res_y = grid
    steps = ((transform.c - x0) / res_x, (y0 - transform.f) / res_y)
    return (transform.a, -transform.e) == (res_x, res_y) and all(abs(s - round(s)) < 1e-6 for s in steps)


def _snap(transform: Any, width: int, height: int, grid: Grid) -> tuple[Any, int, int]:
    """The smallest window of ``grid`` covering a transform's extent."""
    from affine import Affine

    x0, y0, res_x, res_y = grid
    left, top = transform.c, transform.f
    right, bottom = left + width * transform.a, top + height * transform.e
    col0, row0 = math.floor((left - x0) / res_x + 1e-9), math.floor((y0 - top) / res_y + 1e-9)
    col1, row1 = math.ceil((right - x0) / res_x - 1e-9), math.ceil((y0 - bottom) / res_y - 1e-9)
    return Affine(res_x, 0.0, x0 + col0 * res_x, 0.0, -res_y, y0 - row0 * res_y), col1 - col0, row1 - row0


def _warp_mask(source: Path, out: Path, target: Any, grid: Grid) -> None:
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject

    from geocrobim.raster import atomic_path, write_cog

    with rasterio.open(source) as src, tempfile.TemporaryDirectory(dir=out.parent, prefix=".warp-") as tmp:
        transform, width, height = calculate_default_transform(src.crs, target, src.width, src.height, *src.bounds)
        transform, width, height = _snap(transform, width, height, grid)  # the extent, on the group's grid
        profile = {
            "driver": "GTiff", "dtype": "uint8", "count": 1, "crs": target, "transform": transform, "width": width,
            "height": height, "nodata": MASK_NODATA, "tiled": True, "blockxsize": 256, "blockysize": 256,
            "compress": "deflate",
        }
        plain = Path(tmp) / "warped.tif"
        with rasterio.open(plain, "w", **profile) as dst:
            reproject(
                rasterio.band(src, 1), rasterio.band(dst, 1), src_nodata=MASK_NODATA, dst_nodata=MASK_NODATA,
                resampling=Resampling.nearest, init_dest_nodata=True,
            )
        with atomic_path(out, overwrite=True) as final:
            write_cog(plain, final, nodata=MASK_NODATA, resampling="nearest")
