"""Quicklook: an RGB picture of the scene with the found object drawn on it, for people.

Layout, top to bottom, left to right::

    +---------------------------+   +-----------+
    | overview: the whole scene |   | detail    |   (the detail only for a small object)
    | object filled + outlined  |   | at source |
    | [cyan box: the detail]    |   | resolution|
    +---------------------------+   +-----------+
    | "the expression"                           |   caption band
    | found: score 0.83, 1 instance              |   (or: not found, and why)
    | |----| 100 m   overview 1 px = 4 m; ...    |
    +--------------------------------------------+

- The **overview** is the scene read decimated (GDAL serves overviews when the file has
  them), longest side :data:`QUICKLOOK_SIZE`, stretched with the scene's own
  :class:`Stretch` so the picture looks like what the model saw. A scene smaller than
  :data:`QUICKLOOK_MIN_SIZE` is enlarged by a whole factor (nearest, at most 8x).
- The **object** is drawn with a translucent yellow fill and a yellow outline over a black
  halo, which reads on bright and dark ground alike (:mod:`.quicklook_draw`).
- A **detail inset** is added when the object is small in the overview (its longest side
  under :data:`DETAIL_WHEN` px, where a 20 m house in a 16 km scene would be a pixel or
  two): a :data:`DETAIL_SIZE` px square read from the source around the object, spanning
  :data:`DETAIL_CONTEXT` times the object's size (at most :data:`DETAIL_MAX_ZOOM` times
  enlarged, nearest, so pixels stay pixels). Its footprint is a cyan box on the overview.
- The **caption band** has the expression, the score (or that nothing was found, and
  why), and a scale bar in metres with the metres per pixel of the overview and the detail.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.windows import Window

from geocrobim.raster.quicklook_draw import (
    caption_band,
    draw_frame,
    draw_object,
    metres_text,
    nice_length,
    outline,
)
from geocrobim.raster.reading import Stretch, read_decimated, read_window
from geocrobim.raster.scene import Scene

__all__ = ["QuicklookCaption", "outline", "render_quicklook", "write_quicklook"]

#: Longest side of the overview in pixels.
QUICKLOOK_SIZE = 1024
#: A scene whose longest side is under this is enlarged (whole factor, nearest) towards it.
QUICKLOOK_MIN_SIZE = 512
#: Side of the detail inset in pixels.
DETAIL_SIZE = 512
#: The detail is added when the object's longest side in the overview is under this (px).
DETAIL_WHEN = 48
#: The detail spans this many times the object's longest side.
DETAIL_CONTEXT = 3.0
#: The detail enlarges source pixels at most this many times.
DETAIL_MAX_ZOOM = 8
#: Grey of pixels without data.
INVALID_GREY = 64
#: Space between the overview and the detail, and the panels' background.
_GAP = 8
_PANEL_BACKGROUND = 40


@dataclass(frozen=True)
class QuicklookCaption:
    """What the caption band says.

    Attributes:
        expression: the sentence.
        score: the best instance's score (also when it was rejected under the threshold); None
            when there was no candidate at all.
        instances: instances kept.
        note: why nothing was found (the engine's note), if known.
    """

    expression: str
    score: float | None
    instances: int = 0
    note: str | None = None

    def lines(self) -> list[str]:
        """The expression line and the result line."""
        if self.instances == 0:
            # The engine's notes already say "not found: ..." with the reason.
            result = self.note if self.note else "not found"
        else:
            result = f"found: score {self.score:.2f}, {self.instances} instance{'s' if self.instances != 1 else ''}"
        return [f'"{self.expression}"', result]


@dataclass(frozen=True)
class _Detail:
    """The detail inset: its source window and its picture."""

    window: Window
    rgb: np.ndarray  # (DETAIL_SIZE, DETAIL_SIZE, 3)

    @property
    def source_px(self) -> float:
        """Source pixels per inset pixel."""
        return float(self.window.width) / self.rgb.shape[1]


def render_quicklook(
    src: DatasetReader,
    scene: Scene,
    stretch: Stretch,
    mask_path: str | os.PathLike[str] | None = None,
    *,
    max_size: int = QUICKLOOK_SIZE,
    min_size: int = QUICKLOOK_MIN_SIZE,
    caption: QuicklookCaption | None = None,
    focus: tuple[float, float, float, float] | None = None,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """The quicklook as an array (see the module docstring for what it shows).

    Args:
        src: The scene's open dataset.
        scene: The scene.
        stretch: The scene's stretch.
        mask_path: A mask raster on the scene's grid (nonzero, non-nodata = object), e.g.
            the mask COG; its overviews make the decimated read cheap. None: no object.
        max_size: Longest side of the overview in pixels.
        min_size: Smaller scenes are enlarged towards this (at most 8x; never past ``max_size``).
        caption: The caption band's text; None: no band.
        focus: ``(left, bottom, right, top)`` of the object to show in detail, in the
            scene's CRS (e.g. the best instance's polygon); None: the mask's extent in
            the overview. Only used with ``mask_path``.
        background: ``(3, h, w)`` uint8 RGB of the scene at ``scene.downsampled_shape(max_size)``,
            already stretched with invalid pixels dimmed (e.g. assembled by the engine from
            the windows it read); skips the decimated read of the scene. None reads it.

    Returns:
        ``(h, w, 3)`` uint8 RGB; invalid scene pixels are dimmed grey.
    """
    rgb = _overview(src, scene, stretch, max_size, min_size, background)
    scale = rgb.shape[1] / scene.width  # overview pixels per source pixel
    detail = None
    if mask_path is not None:
        with rasterio.open(mask_path) as mask_src:
            # Nearest keeps 0/1 values; the mask COG's nearest overviews serve this read.
            mask = _object(mask_src, rgb.shape[:2])
            draw_object(rgb, mask, _line_width(rgb.shape[:2]))
            box = _focus_window(scene, focus, mask, scale)
            if box is not None and max(box.width, box.height) * scale < DETAIL_WHEN:
                detail = _detail(src, mask_src, scene, stretch, box, scale)
    if detail is not None:
        draw_frame(rgb, _footprint(detail.window, scale), _line_width(rgb.shape[:2]))
    picture = _side_by_side(rgb, None if detail is None else detail.rgb)
    if caption is None:
        return picture
    band = caption_band(picture.shape[1], caption.lines(), _scale_text(scene, scale, detail),
                        _scale_bar(scene, scale, rgb.shape[1]))
    return np.ascontiguousarray(np.concatenate([picture, band]))


def write_quicklook(
    dst_path: str | os.PathLike[str],
    src: DatasetReader,
    scene: Scene,
    stretch: Stretch,
    mask_path: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Path:
    """Render the quicklook (see :func:`render_quicklook` for ``options``) and save it as PNG.

    Wrap ``dst_path`` in :func:`atomic_path`.

    Returns:
        ``dst_path`` as a Path.
    """
    image = render_quicklook(src, scene, stretch, mask_path, **options)
    Image.fromarray(image).save(dst_path, format="PNG")
    return Path(dst_path)


def _overview(src: DatasetReader, scene: Scene, stretch: Stretch, max_size: int, min_size: int,
              background: np.ndarray | None) -> np.ndarray:
    """``(h, w, 3)`` of the whole scene: decimated (or ``background``), enlarged if small."""
    if background is not None:
        rgb = background.copy()
    else:
        data, valid = read_decimated(src, scene, scene.downsampled_shape(max_size))
        rgb = np.where(valid, stretch.apply(data), np.uint8(INVALID_GREY))
    zoom = max(1, min(DETAIL_MAX_ZOOM, min(min_size, max_size) // max(scene.width, scene.height)))
    if zoom > 1:
        rgb = rgb.repeat(zoom, axis=1).repeat(zoom, axis=2)
    return np.ascontiguousarray(np.moveaxis(rgb, 0, -1))


def _object(mask_src: DatasetReader, shape: tuple[int, int], window: Window | None = None) -> np.ndarray:
    """The mask's object pixels (nonzero, not nodata) at ``shape``, nearest; ``window`` may overhang."""
    overhangs = window is not None and (
        window.col_off < 0 or window.row_off < 0
        or window.col_off + window.width > mask_src.width or window.row_off + window.height > mask_src.height
    )
    mask = mask_src.read(1, window=window, out_shape=shape, resampling=Resampling.nearest, masked=True,
                         boundless=overhangs, fill_value=0)
    return np.asarray(mask.filled(0)) > 0


def _line_width(shape: tuple[int, int]) -> int:
    return max(1, min(shape) // 400 + 1)


def _focus_window(scene: Scene, focus: tuple[float, float, float, float] | None, mask: np.ndarray,
                  scale: float) -> Window | None:
    """The object's extent in source pixels: ``focus`` if given, else the mask's in the overview."""
    if focus is not None:
        return _bounds_window(scene, focus)
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return None
    return Window(cols.min() / scale, rows.min() / scale, (cols.max() + 1 - cols.min()) / scale,
                  (rows.max() + 1 - rows.min()) / scale)


def _bounds_window(scene: Scene, bounds: tuple[float, float, float, float]) -> Window:
    """``(left, bottom, right, top)`` as a window of source pixels, on any axis-aligned grid
    (pixel space, y down, included)."""
    inverse = ~scene.transform
    left, bottom, right, top = bounds
    corners = [inverse @ (x, y) for x in (left, right) for y in (bottom, top)]
    cols, rows = [c for c, _ in corners], [r for _, r in corners]
    return Window(min(cols), min(rows), max(cols) - min(cols), max(rows) - min(rows))


def _detail(src: DatasetReader, mask_src: DatasetReader, scene: Scene, stretch: Stretch, box: Window,
            scale: float) -> _Detail | None:
    """The detail inset around ``box`` (source pixels), or None when it would show no more than the overview."""
    longest = max(float(box.width), float(box.height), 1.0)
    side = max(DETAIL_CONTEXT * longest, DETAIL_SIZE / DETAIL_MAX_ZOOM)
    if DETAIL_SIZE / side < 1.5 * scale:  # the overview is about as detailed
        return None
    col = _clamp(float(box.col_off) + float(box.width) / 2 - side / 2, side, scene.width)
    row = _clamp(float(box.row_off) + float(box.height) / 2 - side / 2, side, scene.height)
    window = Window(col, row, side, side)
    resampling = Resampling.nearest if side <= DETAIL_SIZE else Resampling.average
    data, valid = read_window(src, scene, window, stretch, out_shape=(DETAIL_SIZE, DETAIL_SIZE), resampling=resampling)
    rgb = np.ascontiguousarray(np.moveaxis(np.where(valid, data, np.uint8(INVALID_GREY)), 0, -1))
    draw_object(rgb, _object(mask_src, (DETAIL_SIZE, DETAIL_SIZE), window), 2)
    draw_frame(rgb, (0, 0, DETAIL_SIZE, DETAIL_SIZE), 3)
    return _Detail(window, rgb)


def _clamp(start: float, side: float, size: int) -> float:
    """A window start that keeps ``side`` inside ``[0, size)`` where it fits."""
    return min(max(start, 0.0), size - side) if side <= size else (size - side) / 2


def _footprint(window: Window, scale: float) -> tuple[int, int, int, int]:
    """The detail window on the overview, at least 9 px a side so it shows."""
    row0, col0 = float(window.row_off) * scale, float(window.col_off) * scale
    row1, col1 = row0 + float(window.height) * scale, col0 + float(window.width) * scale
    grow_r, grow_c = max(0.0, (9 - (row1 - row0)) / 2), max(0.0, (9 - (col1 - col0)) / 2)
    return math.floor(row0 - grow_r), math.floor(col0 - grow_c), math.ceil(row1 + grow_r), math.ceil(col1 + grow_c)


def _side_by_side(overview: np.ndarray, detail: np.ndarray | None) -> np.ndarray:
    """The overview and, right of it, the detail, on one background."""
    if detail is None:
        return overview
    height = max(overview.shape[0], detail.shape[0])
    width = overview.shape[1] + _GAP + detail.shape[1]
    panel = np.full((height, width, 3), _PANEL_BACKGROUND, dtype=np.uint8)
    panel[: overview.shape[0], : overview.shape[1]] = overview
    panel[: detail.shape[0], overview.shape[1] + _GAP :] = detail
    return panel


def _scale_bar(scene: Scene, scale: float, width: int) -> tuple[int, str] | None:
    """A scale bar for the overview (``width`` px wide), at most a quarter of it, or None without metres."""
    metres_per_px = _metres_per_px(scene, scale)
    if metres_per_px is None:
        return None
    metres = nice_length(width / 4 * metres_per_px)
    return max(1, round(metres / metres_per_px)), metres_text(metres)


def _scale_text(scene: Scene, scale: float, detail: _Detail | None) -> str:
    """``overview 1 px = 4 m; detail (cyan) 1 px = 0.5 m``, in source pixels without a CRS."""
    parts = [f"overview 1 px = {_pixel_text(scene, 1 / scale)}"]
    if detail is not None:
        parts.append(f"detail (cyan) 1 px = {_pixel_text(scene, detail.source_px)}")
    return "; ".join(parts)


def _pixel_text(scene: Scene, source_px: float) -> str:
    gsd = scene.gsd_m
    return f"{source_px:.3g} source px" if gsd is None else f"{gsd * source_px:.3g} m"


def _metres_per_px(scene: Scene, scale: float) -> float | None:
    gsd = scene.gsd_m
    return None if gsd is None else gsd / scale
