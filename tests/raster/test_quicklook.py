"""Quicklook PNG: downsampled, stretched scene with the mask outline."""

from __future__ import annotations

import numpy as np
from PIL import Image

from geocrobim.raster import compute_stretch, open_scene, render_quicklook, write_quicklook
from geocrobim.raster.quicklook import outline


def test_outline_of_a_square():
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:8, 3:9] = True
    edge = outline(mask)
    assert edge.sum() == 2 * 6 + 2 * 4
    assert not edge[3:7, 4:8].any()


def test_quicklook_draws_the_mask_outline(geotiff, rng, tmp_path):
    data = np.broadcast_to(1000 + np.arange(1200, dtype=np.uint16)[:, None], (3, 1200, 1600)).copy()  # grey ramp
    data[:, :100] = 0
    scene = open_scene(geotiff(data, nodata=0))
    mask = np.zeros((1, 1200, 1600), dtype=np.uint8)
    mask[0, 400:800, 400:1200] = 1
    mask_path = geotiff(mask, name="mask.tif", nodata=255)
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        image = render_quicklook(src, scene, stretch, mask_path, max_size=400)
        png = write_quicklook(tmp_path / "q.png", src, scene, stretch, mask_path, max_size=400)
    assert image.shape == (300, 400, 3) and image.dtype == np.uint8
    red = (image[..., 0] == 255) & (image[..., 1] == 0) & (image[..., 2] == 0)
    rows, cols = np.nonzero(red)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (100, 199, 100, 299)
    assert (image[:25] == 64).all()  # nodata rows are dimmed grey
    with Image.open(png) as reread:
        assert reread.size == (400, 300) and reread.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(reread), image)
