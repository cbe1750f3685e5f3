"""Fixtures for the engine: the tiny test checkpoint, and stub predictors that make outputs predictable.

The stubs stand in for the model when a test is about the engine (tiling, blending,
grounding, outputs), not about the model: their response is a known function of the
pixels, so the expected mask can be computed. Tests about the model path use the real
test checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "real_rasters"


class StubPredictor:
    """A Predictor look-alike whose probability is a function of the pixels.

    Args:
        tile_size: the model input side.
        gsd: training GSD reported to the engine.
        response: ``(images (B, 3, H, W) uint8, expression index) -> (B, H, W)`` probabilities;
            default: brightness (mean of the channels / 255).

    Attributes:
        calls: per ``predict`` call, ``(batch size, number of expressions, H, W)``.
        images: every image batch seen (only when ``keep_images``).
    """

    def __init__(
        self, tile_size: int = 32, gsd: float | None = None, response: Any = None, keep_images: bool = False
    ) -> None:
        self.tile_size = tile_size
        self.gsd = gsd
        self.model_id = "stub"
        self.response = response or brightness
        self.calls: list[tuple[int, int, int, int]] = []
        self.keep_images = keep_images
        self.images: list[np.ndarray] = []

    def encode_text(self, expressions: Sequence[str], *, warn_user: bool = True) -> list[str]:
        return list(expressions)

    def predict(self, images: np.ndarray, text: list[str]) -> np.ndarray:
        assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[1] == 3
        b, _, h, w = images.shape
        self.calls.append((b, len(text), h, w))
        if self.keep_images:
            self.images.append(images.copy())
        out = np.stack([self.response(images, e) for e in range(len(text))], axis=1)
        return out.astype(np.float32)

    @property
    def windows(self) -> int:
        """Windows that went through the model."""
        return sum(c[0] for c in self.calls)


def brightness(images: np.ndarray, expression: int) -> np.ndarray:
    """Probability = brightness: bright objects are 'found', dark background is not."""
    return images.mean(axis=1) / 255.0


def constant(value: float) -> Any:
    """A response that ignores the pixels (the seam test's model)."""
    return lambda images, expression: np.full((images.shape[0], *images.shape[2:]), value, dtype=np.float32)


@pytest.fixture
def stub() -> type[StubPredictor]:
    return StubPredictor


@pytest.fixture(scope="session")
def test_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random crobim_test checkpoint (made once per session)."""
    from geocrobim.models.testing import make_test_checkpoint

    return make_test_checkpoint(tmp_path_factory.mktemp("checkpoint") / "crobim_test")


@pytest.fixture(scope="session")
def test_predictor(test_checkpoint: Path) -> Any:
    """A loaded Predictor over the test checkpoint, on the CPU (shared: loading is the slow part)."""
    from geocrobim.models import Predictor

    return Predictor.from_checkpoint(test_checkpoint, device="cpu")


def squares(shape: tuple[int, int], boxes: Sequence[tuple[int, int, int, int, int]], background: int = 0) -> np.ndarray:
    """``(3, h, w)`` uint8 scene with bright boxes ``(row, col, height, width, value)`` on a dark background."""
    data = np.full((3, *shape), background, dtype=np.uint8)
    for r, c, h, w, value in boxes:
        data[:, r : r + h, c : c + w] = value
    return data


@pytest.fixture
def make_squares() -> Any:
    return squares


@pytest.fixture
def constant_response() -> Any:
    return constant
