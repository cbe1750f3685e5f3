"""The quicklook's background, assembled from the windows the passes read anyway.

A decimated read of a whole scene without overviews decodes every block once more
(seconds for a big scene, once per expression). The passes already read every part
of the scene: the coarse pass all of it at the coarse GSD, the fine pass its windows
at the reading GSD. Each window read is pasted, nearest-neighbour, into a small
canvas at the quicklook's size; fine windows, pasted later, replace the coarse view
where they exist. Areas the fine pass did not visit stay at the coarse view's detail.
"""

from __future__ import annotations

import math

import numpy as np
from rasterio.windows import Window

from geocrobim.raster import Scene
from geocrobim.raster.quicklook import QUICKLOOK_SIZE

#: Grey of pixels without data in the quicklook (as the raster layer's quicklook does).
INVALID_GREY = 64


class QuicklookCanvas:
    """A ``(3, h, w)`` uint8 picture of the scene at quicklook size, filled window by window.

    Args:
        scene: the scene.
        max_size: longest side of the quicklook.
    """

    def __init__(self, scene: Scene, max_size: int = QUICKLOOK_SIZE) -> None:
        self.height, self.width = scene.downsampled_shape(max_size)
        self.sx = self.width / scene.width
        self.sy = self.height / scene.height
        self.rgb = np.zeros((3, self.height, self.width), dtype=np.uint8)
        self.valid = np.zeros((self.height, self.width), dtype=bool)
        self.seen = np.zeros((self.height, self.width), dtype=bool)

    def paste(self, window: Window, rgb: np.ndarray, valid: np.ndarray) -> None:
        """Paste one window's read (``(3, t, t)`` and ``(t, t)``, covering ``window`` in source pixels)."""
        rows = _axis(window.row_off, window.height, self.sy, self.height, rgb.shape[1])
        cols = _axis(window.col_off, window.width, self.sx, self.width, rgb.shape[2])
        if rows is None or cols is None:
            return
        (r0, r1, ri), (c0, c1, ci) = rows, cols
        self.rgb[:, r0:r1, c0:c1] = rgb[:, ri][:, :, ci]
        self.valid[r0:r1, c0:c1] = valid[ri][:, ci]
        self.seen[r0:r1, c0:c1] = True

    @property
    def complete(self) -> bool:
        """True once every quicklook pixel has been painted."""
        return bool(self.seen.all())

    def background(self) -> np.ndarray:
        """``(3, h, w)`` uint8 RGB with invalid pixels dimmed grey."""
        return np.where(self.valid, self.rgb, np.uint8(INVALID_GREY))


def _axis(offset: float, length: float, scale: float, size: int, samples: int) -> tuple[int, int, np.ndarray] | None:
    """Canvas pixels ``[i0, i1)`` whose centres fall inside a window, and the window sample for each."""
    i0 = max(0, math.ceil(offset * scale - 0.5))
    i1 = min(size, math.ceil((offset + length) * scale - 0.5))
    if i1 <= i0:
        return None
    centres = (np.arange(i0, i1) + 0.5) / scale  # in source pixels
    index = np.floor((centres - offset) * samples / length).astype(np.intp)
    return i0, i1, np.clip(index, 0, samples - 1)
