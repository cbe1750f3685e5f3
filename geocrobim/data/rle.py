"""COCO masks without pycocotools: compressed/uncompressed RLE and polygons, in numpy.

COCO run-length encoding runs over the mask in column-major (Fortran) order,
starting with a run of zeros. The compressed form writes each count as 5-bit groups
in characters offset by 48, with a continuation bit (0x20) and a sign bit (0x10) on
the last group; from the third count on, the count is stored as the difference to
the count two places earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from geocrobim.errors import DatasetError


def counts_from_string(s: str | bytes) -> list[int]:
    """Decode a compressed RLE ``counts`` string into run lengths."""
    if isinstance(s, bytes):
        s = s.decode("ascii")
    counts: list[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            if p >= len(s):
                raise DatasetError(f"truncated RLE counts string ({len(s)} characters); the annotation is corrupt")
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)  # sign-extend
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def counts_to_string(counts: Sequence[int]) -> str:
    """Encode run lengths as a compressed RLE ``counts`` string (the inverse of :func:`counts_from_string`)."""
    out = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift, as in the C reference
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """Decode one RLE dict ``{"size": [h, w], "counts": str | list[int]}``.

    Returns:
        (h, w) uint8 mask in {0, 1}.
    """
    try:
        h, w = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"RLE annotation {str(rle)[:80]!r} lacks size/counts; expected {{'size': [h, w], 'counts': ...}}") from exc
    runs = counts_from_string(counts) if isinstance(counts, (str, bytes)) else [int(c) for c in counts]
    runs_arr = np.asarray(runs, np.int64)
    if np.any(runs_arr < 0) or runs_arr.sum() != h * w:
        raise DatasetError(f"RLE runs sum to {int(runs_arr.sum())}, not {h}x{w}={h * w}; the annotation is corrupt")
    values = (np.arange(len(runs_arr)) % 2).astype(np.uint8)
    return np.repeat(values, runs_arr).reshape(w, h).T.copy()


def rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """Encode a (h, w) mask as a compressed COCO RLE dict (counts as str)."""
    m = np.asarray(mask).astype(bool)
    flat = m.T.ravel()  # column-major
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": counts_to_string(runs)}


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Rasterise COCO polygons ``[[x1, y1, x2, y2, ...], ...]`` (pixel coordinates) into one mask.

    Returns:
        (height, width) uint8 in {0, 1}; parts are united.
    """
    img = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(img)
    for poly in polygons:
        xy = [float(v) for v in poly]
        if len(xy) < 6 or len(xy) % 2:
            raise DatasetError(f"polygon with {len(xy)} coordinates; COCO polygons need x,y pairs, at least 3 points")
        draw.polygon(list(zip(xy[0::2], xy[1::2], strict=True)), fill=1)
    return np.asarray(img, np.uint8)


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """Any COCO segmentation (polygons, one RLE, a list of RLEs) as one mask.

    Parts are united with ``> 0`` (the reference ``== 1`` drops overlapping parts).

    Returns:
        (height, width) bool.
    """
    if isinstance(segmentation, dict):
        parts = [rle_decode(segmentation)]
    elif isinstance(segmentation, list) and segmentation and isinstance(segmentation[0], dict):
        parts = [rle_decode(r) for r in segmentation]
    elif isinstance(segmentation, list) and segmentation and isinstance(segmentation[0], (list, tuple)):
        parts = [polygons_to_mask(segmentation, height, width)]
    else:
        raise DatasetError(f"unrecognised segmentation {str(segmentation)[:80]!r}; expected polygons or COCO RLE")
    out = np.zeros((height, width), bool)
    for part in parts:
        if part.shape != out.shape:
            raise DatasetError(f"mask of shape {part.shape} for an image of {height}x{width}; the annotation does not match its image")
        out |= part > 0
    return out
