"""Torch-free raster layer: open and validate scenes, stretch, read windows, grid, blend, stitch, write COGs.

Typical use by the inference engine::

    scene = open_scene("scene.tif")
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        windows = make_grid(scene.width, scene.height, tile=512, overlap=128)
        with Stitcher.for_scene(tmp_tif, scene, windows, blend_weights(512, 128), count=n_expr) as st:
            for window in windows:
                rgb, valid = read_window(src, scene, window, stretch)   # (3, h, w) uint8, (h, w) bool
                if not valid.any():
                    st.skip(window)
                    continue
                st.add(window, model(rgb), valid)                      # (E, h, w) float32 in [0, 1]
    with atomic_path(out / "mask.tif", overwrite=False) as tmp:
        write_cog(tmp_tif, tmp, resampling="average")

Nothing here imports torch (a test checks).
"""

from __future__ import annotations

from geocrobim.raster.blend import blend_weights
from geocrobim.raster.cog import write_cog
from geocrobim.raster.grid import make_grid, validate_tiling
from geocrobim.raster.output import atomic_path, check_output_dir, check_output_path, ensure_output_dir
from geocrobim.raster.quicklook import QuicklookCaption, render_quicklook, write_quicklook
from geocrobim.raster.reading import Stretch, read_decimated, read_valid, read_window
from geocrobim.raster.scene import SUPPORTED_DTYPES, Scene, open_scene
from geocrobim.raster.stitch import Stitcher
from geocrobim.raster.stretch import compute_stretch

__all__ = [
    "SUPPORTED_DTYPES",
    "QuicklookCaption",
    "Scene",
    "Stitcher",
    "Stretch",
    "atomic_path",
    "blend_weights",
    "check_output_dir",
    "check_output_path",
    "compute_stretch",
    "ensure_output_dir",
    "make_grid",
    "open_scene",
    "read_decimated",
    "read_valid",
    "read_window",
    "render_quicklook",
    "validate_tiling",
    "write_cog",
    "write_quicklook",
]
