"""The quicklook background assembled from the windows the passes read."""

from __future__ import annotations

import numpy as np
import rasterio
from rasterio.windows import Window

from geocrobim.inference.quicklook_canvas import INVALID_GREY, QuicklookCanvas
from geocrobim.raster import compute_stretch, open_scene, render_quicklook


def test_windows_at_any_scale_fill_the_canvas_like_a_decimated_read(geotiff):
    rows, cols = np.mgrid[0:300, 0:500]
    data = np.stack([rows % 256, cols % 256, (rows // 3 + cols // 5) % 256]).astype(np.uint8)
    scene = open_scene(geotiff(data))
    canvas = QuicklookCanvas(scene, max_size=100)
    assert (canvas.height, canvas.width) == (60, 100)
    # Full-resolution windows of 100 px, one of them past the raster's edge.
    for r in range(0, 300, 100):
        for c in range(0, 500, 100):
            canvas.paste(Window(c, r, 100, 100), data[:, r : r + 100, c : c + 100], np.ones((100, 100), bool))
    assert canvas.complete
    # Canvas pixel (i, j) shows the source pixel under its centre: (i + 0.5) * 5, (j + 0.5) * 5.
    centres_r = ((np.arange(60) + 0.5) * 5).astype(int)
    centres_c = ((np.arange(100) + 0.5) * 5).astype(int)
    np.testing.assert_array_equal(canvas.background(), data[:, centres_r][:, :, centres_c])
    with rasterio.open(scene.path) as src:
        picture = render_quicklook(src, scene, compute_stretch(src, scene), max_size=100,
                                   background=canvas.background())
    assert picture.shape == (60, 100, 3)


def test_downsampled_reads_and_invalid_pixels(geotiff):
    scene = open_scene(geotiff(np.full((3, 64, 64), 200, np.uint8)))
    canvas = QuicklookCanvas(scene, max_size=32)
    # One coarse read: the whole scene as an 8 x 8 window, its left half invalid.
    valid = np.ones((8, 8), bool)
    valid[:, :4] = False
    canvas.paste(Window(0, 0, 64, 64), np.full((3, 8, 8), 200, np.uint8), valid)
    out = canvas.background()
    assert canvas.complete and (out[:, :, :16] == INVALID_GREY).all() and (out[:, :, 16:] == 200).all()
    partial = QuicklookCanvas(scene, max_size=32)
    partial.paste(Window(0, 0, 16, 16), np.zeros((3, 16, 16), np.uint8), np.ones((16, 16), bool))
    assert not partial.complete
    partial.paste(Window(100, 100, 16, 16), np.zeros((3, 16, 16), np.uint8), np.ones((16, 16), bool))  # outside
