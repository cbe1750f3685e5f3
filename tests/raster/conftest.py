"""Fixtures for the raster layer: real crops from tests/real_rasters, synthetic imagery, an engine-like pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from geocrobim.raster import (
    Scene,
    Stitcher,
    Stretch,
    atomic_path,
    blend_weights,
    compute_stretch,
    make_grid,
    open_scene,
    read_window,
    write_cog,
)

DATA = Path(__file__).resolve().parents[1] / "real_rasters"


@pytest.fixture
def data_dir() -> Path:
    """tests/real_rasters, with the real raster crops (see tests/real_rasters/ATTRIBUTION.md)."""
    return DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def rgb_u8(rng: np.random.Generator) -> np.ndarray:
    """(3, 300, 420) uint8 imagery: smooth gradients plus noise, distinct per band."""
    rows, cols = np.mgrid[0:300, 0:420]
    base = np.stack([rows * 0.8, cols * 0.6, (rows + cols) * 0.35])
    return np.clip(base + rng.normal(0, 5, base.shape), 0, 255).astype(np.uint8)


#: ``model(rgb (3, h, w) uint8) -> (count, h, w)`` probabilities or uint8 levels.
Model = Callable[[np.ndarray], np.ndarray]


@pytest.fixture
def pipeline(tmp_path: Path) -> Callable[..., tuple[Scene, Stretch, Path]]:
    """``pipeline(path, model, tile=, overlap=, count=)``: grid, read, model, stitch, COG, as the engine does.

    All-invalid windows are skipped. Returns the scene, its stretch and the probability COG.
    """

    def run(
        path: Path, model: Model, *, tile: int = 128, overlap: int = 32, count: int = 1
    ) -> tuple[Scene, Stretch, Path]:
        scene = open_scene(path)
        windows = make_grid(scene.width, scene.height, tile, overlap)
        stitched, cog = tmp_path / "stitched.tif", tmp_path / "prob.tif"
        with scene.open() as src:
            stretch = compute_stretch(src, scene)
            weights = blend_weights(tile, overlap)
            with Stitcher.for_scene(stitched, scene, windows, weights, count=count, block_size=32) as stitcher:
                for window in windows:
                    rgb, valid = read_window(src, scene, window, stretch)
                    if valid.any():
                        stitcher.add(window, model(rgb), valid)
                    else:
                        stitcher.skip(window)
        with atomic_path(cog) as tmp:
            write_cog(stitched, tmp, resampling="average")
        return scene, stretch, cog

    return run

