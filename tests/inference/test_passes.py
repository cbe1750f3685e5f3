"""SceneReader: windows gathered from chunks are exactly the windows read one by one."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.enums import Resampling
from rasterio.windows import Window

from geocrobim.inference import passes
from geocrobim.raster import compute_stretch, make_grid, open_scene, read_window


@pytest.mark.parametrize("batch", [1, 5, 8])
def test_read_many_matches_single_window_reads(geotiff, monkeypatch, batch):
    monkeypatch.setattr(passes, "CHUNK", 160)  # several chunks per grid row, runs cut at their ends
    rng = np.random.default_rng(3)
    data = rng.integers(1, 255, (3, 230, 410), dtype=np.uint8)
    mask = rng.random((230, 410)) > 0.05  # an internal mask: validity comes with the reads
    scene = open_scene(geotiff(data, mask=mask, block=64))
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        windows = make_grid(scene.width, scene.height, 64, 16)
        windows = [*windows, Window(12.5, 3, 64, 64)]  # a fractional offset: read on its own
        expected = [read_window(src, scene, w, stretch, out_shape=(64, 64)) for w in windows]
    reader = passes.SceneReader(scene, stretch, (64, 64), Resampling.bilinear)
    try:
        for start in range(0, len(windows), batch):
            rgb, valid = reader.read_many(windows[start : start + batch])
            for i, (want_rgb, want_valid) in enumerate(expected[start : start + batch]):
                np.testing.assert_array_equal(rgb[i], want_rgb)
                np.testing.assert_array_equal(valid[i], want_valid)
    finally:
        reader.close()
