"""Drawing for the quicklook: the object (fill, outline, halo), frames, the caption band.

Colours are chosen to read on any background: a bright yellow outline on a black halo
(the halo separates it from bright roofs, the yellow from dark water), a translucent
yellow fill, and cyan for the detail frame. Text uses Pillow's built-in font (a scalable
one where Pillow has FreeType), so no font file is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: The object's outline.
OUTLINE = (255, 230, 0)
#: Under the outline, on both sides of it.
HALO = (0, 0, 0)
#: The detail inset's frame, and its footprint on the overview.
FRAME = (0, 220, 255)
#: Opacity of the object's yellow fill.
FILL_ALPHA = 0.35
#: The caption band's background and text.
BAND = (24, 24, 24)
TEXT = (240, 240, 240)
#: Caption font size and line height, in pixels.
FONT_SIZE = 15
LINE_HEIGHT = 20
#: Margin of the caption band, in pixels.
MARGIN = 8
#: Rows a caption line may wrap onto.
WRAP_ROWS = 2


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


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by ``radius`` pixels (8-neighbourhood)."""
    grown = mask.copy()
    for _ in range(radius):
        step = grown.copy()
        step[1:, :] |= grown[:-1, :]
        step[:-1, :] |= grown[1:, :]
        step[:, 1:] |= grown[:, :-1]
        step[:, :-1] |= grown[:, 1:]
        step[1:, 1:] |= grown[:-1, :-1]
        step[:-1, :-1] |= grown[1:, 1:]
        step[1:, :-1] |= grown[:-1, 1:]
        step[:-1, 1:] |= grown[1:, :-1]
        grown = step
    return grown


def draw_object(rgb: np.ndarray, mask: np.ndarray, width: int) -> None:
    """Draw an object on ``rgb`` (``(h, w, 3)`` uint8, in place): translucent fill, then a
    ``width``-pixel outline over a black halo one pixel wider on each side."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if not len(rows):
        return
    pad = width + 2  # the halo's reach: draw within the object's box only
    box = (slice(max(0, rows[0] - pad), rows[-1] + 1 + pad), slice(max(0, cols[0] - pad), cols[-1] + 1 + pad))
    part, inside = rgb[box], mask[box]
    fill = np.asarray(OUTLINE, dtype=np.float32)
    part[inside] = (part[inside] * (1.0 - FILL_ALPHA) + fill * FILL_ALPHA).astype(np.uint8)
    _stroke(part, outline(inside, width), width, OUTLINE)


def draw_frame(rgb: np.ndarray, box: tuple[int, int, int, int], width: int) -> None:
    """Draw a rectangle ``(row0, col0, row1, col1)`` (exclusive ends, clipped) on ``rgb``
    in :data:`FRAME` over a black halo."""
    height, wide = rgb.shape[:2]
    row0, col0 = max(0, box[0]), max(0, box[1])
    row1, col1 = min(height, box[2]), min(wide, box[3])
    if row1 <= row0 or col1 <= col0:
        return
    pad = width + 2  # the halo's reach: draw within the frame's box only
    top, left = max(0, row0 - pad), max(0, col0 - pad)
    part = rgb[top : row1 + pad, left : col1 + pad]
    inside = np.zeros((part.shape[0] + 2, part.shape[1] + 2), dtype=bool)  # a margin: the image's edge is outside
    inside[row0 - top + 1 : row1 - top + 1, col0 - left + 1 : col1 - left + 1] = True
    _stroke(part, outline(inside, width)[1:-1, 1:-1], width, FRAME)


def _stroke(rgb: np.ndarray, line: np.ndarray, width: int, color: tuple[int, int, int]) -> None:
    halo = dilate(line, max(1, width // 2 + 1)) & ~line
    rgb[halo] = HALO
    rgb[line] = color


def caption_band(width: int, lines: Sequence[str], scale_text: str, scale_bar: tuple[int, str] | None) -> np.ndarray:
    """The caption band: text lines, then a scale line (a scale bar, then ``scale_text``).

    Args:
        width: band width in pixels.
        lines: text lines; each is wrapped at spaces onto at most :data:`WRAP_ROWS` rows
            and shortened with ``...`` beyond.
        scale_text: the last line's text, shortened to fit after the bar.
        scale_bar: ``(length in pixels, label)``, or None for no bar.

    Returns:
        ``(h, width, 3)`` uint8.
    """
    font = _font()
    rows = [row for text in lines for row in wrap_text(text, width - 2 * MARGIN, font)]
    band = Image.new("RGB", (width, 2 * MARGIN + LINE_HEIGHT * (len(rows) + 1)), BAND)
    draw = ImageDraw.Draw(band)
    for number, text in enumerate(rows):
        draw.text((MARGIN, MARGIN + number * LINE_HEIGHT), text, fill=TEXT, font=font)
    x, y = MARGIN, MARGIN + len(rows) * LINE_HEIGHT
    if scale_bar is not None:
        x = _draw_scale_bar(draw, x, y, *scale_bar, font) + 2 * MARGIN
    draw.text((x, y), fit_text(scale_text, width - x - MARGIN, font), fill=TEXT, font=font)
    return np.asarray(band)


def wrap_text(text: str, width: float, font: ImageFont.ImageFont | ImageFont.FreeTypeFont | None = None) -> list[str]:
    """``text`` in rows no wider than ``width`` pixels, broken at spaces; at most
    :data:`WRAP_ROWS` rows, the last shortened with ``...`` if more remains."""
    font = font or _font()
    rows: list[str] = []
    words = text.split(" ")
    while words and len(rows) < WRAP_ROWS - 1:
        take = len(words)
        while take > 1 and font.getlength(" ".join(words[:take])) > width:
            take -= 1
        if take == len(words):
            break
        rows.append(" ".join(words[:take]))
        words = words[take:]
    return [*rows, fit_text(" ".join(words), width, font)] if words else rows


def _draw_scale_bar(draw: ImageDraw.ImageDraw, x: int, y: int, length: int, label: str,
                    font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> int:
    """A light bar exactly ``length`` px long, with end ticks, and its label after it;
    returns the x after the label."""
    middle = y + LINE_HEIGHT // 2
    draw.rectangle((x, middle - 2, x + length - 1, middle + 1), fill=TEXT)  # Pillow's ends are inclusive
    for tick in (x, x + length - 2):
        draw.rectangle((tick, middle - 6, tick + 1, middle + 5), fill=TEXT)
    draw.text((x + length + MARGIN, y), label, fill=TEXT, font=font)
    return x + length + MARGIN + math.ceil(draw.textlength(label, font=font))


def fit_text(text: str, width: float, font: ImageFont.ImageFont | ImageFont.FreeTypeFont | None = None) -> str:
    """``text``, cut and ended with ``...`` where it is wider than ``width`` pixels."""
    font = font or _font()
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text.rstrip() + "..."


def nice_length(max_metres: float) -> float:
    """The longest 1, 2 or 5 x 10^k metres not over ``max_metres`` (a scale bar's length)."""
    exponent = math.floor(math.log10(max_metres))
    for step in (5, 2, 1):
        if step * 10.0**exponent <= max_metres:
            return step * 10.0**exponent
    return 10.0**exponent  # not reached: 1 x 10^k <= max_metres by construction


def metres_text(metres: float) -> str:
    """``250 m``, ``2 km``, ``0.5 m``."""
    if metres >= 1000:
        return f"{metres / 1000:g} km"
    return f"{metres:g} m"


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=FONT_SIZE)
