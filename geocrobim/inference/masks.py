"""Final rasters: the kept instances burnt into a mask, block by block, on the scene's grid.

The mask is rasterised from the kept polygons (not copied from the thresholded
probabilities), so it holds exactly the instances the vector file holds. Polygons
from the polygoniser have pixel-corner vertices, so burning them back
(:class:`~geocrobim.inference.labels.Edges`) reproduces their pixels exactly. Pixels the scene marks invalid
(nodata, alpha, internal mask, NaN) get the mask's nodata value. Everything runs
one block at a time into tiled temporary GeoTIFFs that then become COGs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.io import DatasetReader
from rasterio.windows import Window

from geocrobim.inference.labels import Edges
from geocrobim.raster import Scene, Stretch, read_window
from geocrobim.vector.polygonize import block_windows

#: Mask values: 0 background, 1 object, 255 no data.
MASK_NODATA = 255
#: Edge of the blocks the final pass works in.
FINAL_BLOCK = 1024


def temp_profile(scene: Scene, *, nodata: float | None = None, block: int = 512) -> dict[str, Any]:
    """Profile of a single-band uint8 temporary GeoTIFF on the scene's grid (fast to write)."""
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": scene.width,
        "height": scene.height,
        "count": 1,
        "dtype": "uint8",
        "crs": scene.crs,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "compress": "zstd",
        "zstd_level": 1,
        "bigtiff": "if_safer",
    }
    if scene.transform != Affine.identity():  # identity = pixel space: write no geotransform
        profile["transform"] = scene.transform
    return profile


def write_final_rasters(
    src: DatasetReader,
    scene: Scene,
    stretch: Stretch,
    prob_path: str | os.PathLike[str],
    kept: Sequence[np.ndarray],
    mask_paths: Sequence[Path],
    prob_paths: Sequence[Path] | None = None,
) -> None:
    """Write each expression's mask (and optionally its probability band) as a tiled GeoTIFF.

    Args:
        src: the scene's open dataset (for the validity of each block).
        scene: the scene.
        stretch: the scene's stretch (``read_window`` needs one; the data is discarded).
        prob_path: the stitched probability GeoTIFF, band ``e + 1`` per expression.
        kept: per expression, (N_e,) kept polygons in map coordinates.
        mask_paths: per expression, the temporary mask GeoTIFF to write (uint8, nodata 255).
        prob_paths: per expression, the temporary single-band probability GeoTIFF, or None.
    """
    with rasterio.open(prob_path) as probs:
        edges = [Edges.from_geometries(g, probs.transform) for g in kept]
        masks = [rasterio.open(p, "w", **temp_profile(scene, nodata=MASK_NODATA)) for p in mask_paths]
        bands = [rasterio.open(p, "w", **temp_profile(scene)) for p in prob_paths or ()]
        try:
            for window in block_windows(probs, 1, FINAL_BLOCK):
                valid = _block_validity(src, scene, stretch, window)
                for e, dst in enumerate(masks):
                    mask = (edges[e].window(window) > 0).view(np.uint8)
                    if valid is not None:
                        mask[~valid] = MASK_NODATA
                    dst.write(mask, 1, window=window)
                for e, dst in enumerate(bands):
                    dst.write(probs.read(e + 1, window=window), 1, window=window)
                    computed = probs.read_masks(e + 1, window=window)
                    if valid is not None:
                        computed[~valid] = 0
                    dst.write_mask(computed, window=window)
        finally:
            for dst in (*masks, *bands):
                dst.close()


def _block_validity(src: DatasetReader, scene: Scene, stretch: Stretch, window: Window) -> np.ndarray | None:
    """``(h, w)`` validity of the scene in a block, or None when every pixel is valid."""
    if not scene.has_mask:
        return None
    return read_window(src, scene, window, stretch)[1]
