"""Quicklook: a small RGB picture of the scene with the mask's outline drawn on it.

The scene is read decimated in strips (GDAL serves overviews when the file has them) and stretched
with the scene's own :class:`Stretch`, so the picture looks like what the model saw.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rasterio.io import DatasetReader

from geocrobim.raster.reading import Stretch, read_decimated
from geocrobim.raster.scene import Scene

#: Longest side of the quicklook in pixels.
QUICKLOOK_SIZE = 1024


def outline(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels of ``mask`` that touch a pixel outside it (4-neighbourhood), thickened inward.

    Args:
        mask: ``(h, w)`` bool.
        width: Outline thickness in pixels.

    Returns:
        ``(h, w)`` bool outline.
    """
    inner = mask.copy()
    for _ in range(width):
        eroded = inner.copy()
        eroded[1:, :] &= inner[:-1, :]
        eroded[:-1, :] &= inner[1:, :]
        eroded[:, 1:] &= inner[:, :-1]
        eroded[:, :-1] &= inner[:, 1:]
        inner = eroded
    return mask & ~inner


def render_quicklook(
    src: DatasetReader,
    scene: Scene,
    stretch: Stretch,
    mask_path: str | os.PathLike[str] | None = None,
    *,
    max_size: int = QUICKLOOK_SIZE,
    color: tuple[int, int, int] = (255, 0, 0),
    background: np.ndarray | None = None,
) -> np.ndarray:
    """The quicklook as an array.

    Args:
        src: The scene's open dataset.
        scene: The scene.
        stretch: The scene's stretch.
        mask_path: A mask raster on the scene's grid (nonzero, non-nodata = object), e.g.
            the mask COG; its overviews make the decimated read cheap. None: no outline.
        max_size: Longest side in pixels.
        color: Outline colour.
        background: ``(3, h, w)`` uint8 RGB of the scene, already stretched with invalid
            pixels dimmed (e.g. assembled by the engine from the windows it read); skips
            the decimated read of the scene. None reads it.

    Returns:
        ``(h, w, 3)`` uint8 RGB; invalid scene pixels are dimmed grey.
    """
    if background is not None:
        shape = (int(background.shape[1]), int(background.shape[2]))
        rgb = background.copy()
    else:
        shape = scene.downsampled_shape(max_size)
        data, valid = read_decimated(src, scene, shape)
        rgb = stretch.apply(data)
        rgb = np.where(valid, rgb, np.uint8(64))
    if mask_path is not None:
        with rasterio.open(mask_path) as mask_src:
            # Nearest keeps 0/1 values; the mask COG's nearest overviews serve this read.
            mask = mask_src.read(1, out_shape=shape, resampling=Resampling.nearest, masked=True)
        edge = outline(np.asarray(mask.filled(0)) > 0, width=max(1, min(shape) // 400 + 1))
        for c in range(3):
            rgb[c][edge] = color[c]
    return np.ascontiguousarray(np.moveaxis(rgb, 0, -1))


def write_quicklook(
    dst_path: str | os.PathLike[str],
    src: DatasetReader,
    scene: Scene,
    stretch: Stretch,
    mask_path: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Path:
    """Render the quicklook (see :func:`render_quicklook`; ``options``: ``max_size``, ``color``, ``background``) and save it as PNG.

    Wrap ``dst_path`` in :func:`atomic_path`.

    Returns:
        ``dst_path`` as a Path.
    """
    image = render_quicklook(src, scene, stretch, mask_path, **options)
    Image.fromarray(image).save(dst_path, format="PNG")
    return Path(dst_path)
