"""The two model passes over a scene: coarse (whole scene, downsampled) and fine (reading GSD).

Both run the same :func:`~geocrobim.inference.pipeline.run_pipeline`; they differ in
which windows they read, at what scale, and where the probabilities go (an in-memory
:class:`~geocrobim.inference.grounding.CoarseMap`, or the streaming
:class:`~geocrobim.raster.Stitcher` on the scene's grid).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rasterio.enums import Resampling
from rasterio.windows import Window

from geocrobim.inference.grounding import CoarseGrid, CoarseMap, candidates, plan_coarse, select_windows
from geocrobim.inference.pipeline import PipelineStats, ProgressFn, run_pipeline
from geocrobim.inference.quicklook import QuicklookCanvas
from geocrobim.inference.reading import ReadPlan
from geocrobim.inference.threads import ThreadTuner
from geocrobim.raster import Scene, Stitcher, Stretch, blend_weights, read_window

logger = logging.getLogger(__name__)


class PredictorLike(Protocol):
    """What the engine needs from :class:`geocrobim.models.Predictor` (tests pass stubs).

    A ``predict_logits(images, text) -> torch.Tensor`` method, when present, is used by the
    fine pass to resize and quantise on the model's device (:class:`LevelsPredictor`).
    """

    @property
    def tile_size(self) -> int: ...
    @property
    def gsd(self) -> float | None: ...
    @property
    def model_id(self) -> str: ...
    def encode_text(self, expressions: Sequence[str]) -> Any: ...
    def predict(self, images: np.ndarray, text: Any) -> np.ndarray: ...


class SceneReader:
    """Thread-safe window reads: one rasterio dataset per reader thread.

    Windows read at the source's resolution (``out_shape`` equal to the window's size)
    are served from a chunk: one read of :data:`CHUNK` source columns of the window's
    rows, sliced for every window inside it. Overlapping windows of a row then cost one
    GDAL call, one stretch and one quicklook paste per chunk instead of per window.

    Args:
        scene: the scene.
        stretch: its stretch.
        out_shape: ``(h, w)`` every window is resampled to (the model's input size).
        resampling: resampling of the data when the window's size differs from ``out_shape``.
        canvas: a quicklook canvas every read is pasted into, or None.
    """

    def __init__(
        self,
        scene: Scene,
        stretch: Stretch,
        out_shape: tuple[int, int],
        resampling: Resampling,
        canvas: QuicklookCanvas | None = None,
    ) -> None:
        self.scene = scene
        self.canvas = canvas
        self.stretch = stretch
        self.out_shape = out_shape
        self.resampling = resampling
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb (3, h, w) uint8, valid (h, w) bool)`` of one window at ``out_shape``."""
        if (window.height, window.width) == self.out_shape and _integral(window):
            return self._from_chunk(window)
        return self._read(window, self.out_shape)

    def read_many(self, windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb (n, 3, h, w) uint8, valid (n, h, w) bool)`` of consecutive windows at ``out_shape``.

        Each window is copied once, straight from its chunk into the batch array the
        model receives (no per-window arrays to stack).
        """
        rgb = np.empty((len(windows), 3, *self.out_shape), dtype=np.uint8)
        valid = np.empty((len(windows), *self.out_shape), dtype=bool)
        for i, window in enumerate(windows):
            rgb[i], valid[i] = self.read(window)
        return rgb, valid

    def _read(self, window: Window, out_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        src = getattr(self._local, "src", None)
        if src is None:
            src = self._local.src = self.scene.open()
            with self._lock:
                self._opened.append(src)
        rgb, valid = read_window(src, self.scene, window, self.stretch, out_shape=out_shape, resampling=self.resampling)
        if self.canvas is not None:
            self.canvas.paste(window, rgb, valid)
        return rgb, valid

    def _from_chunk(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        col, row, width, height = (int(v) for v in (window.col_off, window.row_off, window.width, window.height))
        chunk = getattr(self._local, "chunk", None)
        if chunk is None or not _inside((col, row, width, height), chunk[0]):
            span = (col, row, max(width, CHUNK), height)
            chunk = self._local.chunk = (span, *self._read(Window(*span), (height, span[2])))
        (c0, _, _, _), rgb, valid = chunk
        return rgb[:, :, col - c0 : col - c0 + width], valid[:, col - c0 : col - c0 + width]

    def close(self) -> None:
        with self._lock:
            for src in self._opened:
                src.close()
            self._opened.clear()


#: Source columns read at once for windows at the source's resolution (see SceneReader).
CHUNK = 2048


def _integral(window: Window) -> bool:
    return all(float(v).is_integer() for v in (window.col_off, window.row_off, window.width, window.height))


def _inside(window: tuple[int, int, int, int], chunk: tuple[int, int, int, int]) -> bool:
    """True if ``window`` (col, row, width, height) lies in ``chunk``'s columns and has its rows."""
    col, row, width, height = window
    c0, r0, cw, ch = chunk
    return row == r0 and height == ch and c0 <= col and col + width <= c0 + cw


@dataclass
class CoarseOutcome:
    """Result of the coarse pass.

    Attributes:
        grid: the coarse grid.
        probs: ``(E, h, w)`` blended coarse probabilities.
        candidates: ``(E, h, w)`` candidate regions.
        stats: the pass's pipeline statistics.
    """

    grid: CoarseGrid
    probs: np.ndarray
    candidates: np.ndarray
    stats: PipelineStats

    @property
    def found(self) -> list[bool]:
        """Per expression, whether any candidate region was found."""
        return [bool(c.any()) for c in self.candidates]


def make_predict(predictor: PredictorLike, text: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The pipeline's ``predict``: all expressions at once, image encoder once per window."""
    return lambda images: predictor.predict(images, text)


def on_cpu(predictor: PredictorLike) -> bool:
    """True unless the predictor says it runs on a CUDA device (stubs count as CPU)."""
    return getattr(getattr(predictor, "device", None), "type", "cpu") != "cuda"


def coarse_pass(
    scene: Scene,
    stretch: Stretch,
    plan: ReadPlan,
    predictor: PredictorLike,
    text: Any,
    n_expressions: int,
    *,
    batch_size: int,
    readers: int,
    progress: ProgressFn | None = None,
    canvas: QuicklookCanvas | None = None,
) -> CoarseOutcome | None:
    """Run the model over a downsampled view of the whole scene; None if not worth it."""
    grid = plan_coarse(scene.width, scene.height, plan)
    if grid is None:
        logger.info("scene is only a few windows wide: no coarse pass, every window runs")
        return None
    logger.info(
        "coarse pass: %dx%d view (%.1fx downsampled), %d windows", grid.width, grid.height, grid.factor, len(grid.windows)
    )
    blend = CoarseMap(grid, n_expressions, plan.overlap)
    # Averaging is the right filter for a large reduction; GDAL serves it from overviews if any.
    reader = SceneReader(scene, stretch, (plan.tile, plan.tile), Resampling.average, canvas)
    model = ThreadTuner(make_predict(predictor, text), enabled=on_cpu(predictor))
    try:
        stats = run_pipeline(
            [grid.source_window(w) for w in grid.windows],
            reader.read,
            model,
            blend.add,
            batch_size=batch_size,
            readers=readers,
            write_behind=readers > 0,
            progress=progress,
        )
    finally:
        model.restore()
        reader.close()
    probs = blend.probabilities()
    return CoarseOutcome(grid, probs, candidates(probs), stats)


def choose_fine_windows(
    windows: list[Window], coarse: CoarseOutcome | None, plan: ReadPlan
) -> tuple[list[int], str, bool]:
    """Indices of the fine windows to run, a one-line reason, and whether that is a fallback.

    The fine windows are shared by all expressions (the image encoder runs once per
    window), so they are the union of every expression's candidate neighbourhoods; an
    expression without any candidate makes every window run.
    """
    everything = list(range(len(windows)))
    if coarse is None:
        return everything, "all windows (no coarse pass)", False
    if not all(coarse.found):
        missing = [str(i + 1) for i, f in enumerate(coarse.found) if not f]
        reason = f"the coarse pass found no candidate for expression {', '.join(missing)}: falling back to all windows"
        return everything, reason, True
    union = coarse.candidates.any(axis=0)
    # Dilate by half a window: the coarse map is blurry and objects reach past their coarse peak.
    chosen = select_windows(windows, union, coarse.grid, margin=plan.footprint / 2)
    return chosen, f"{len(chosen)} of {len(windows)} windows near coarse candidates", False


def fine_pass(
    scene: Scene,
    stretch: Stretch,
    plan: ReadPlan,
    windows: list[Window],
    predictor: PredictorLike,
    text: Any,
    n_expressions: int,
    prob_path: Path,
    *,
    batch_size: int,
    readers: int,
    progress: ProgressFn | None = None,
    progress_offset: int = 0,
    canvas: QuicklookCanvas | None = None,
) -> PipelineStats:
    """Run the model over ``windows`` at the reading GSD and stitch into ``prob_path``.

    Probabilities come back at ``(tile, tile)`` and are resized to the windows'
    ``footprint`` in source pixels before blending (:class:`LevelsPredictor`), so the
    stitched result lies on the scene's own grid.
    """
    weights = blend_weights(plan.footprint, plan.source_overlap)
    reader = SceneReader(scene, stretch, (plan.tile, plan.tile), Resampling.bilinear, canvas)
    # Blocks no taller than needed keep the stitcher's row band (width x rows) small.
    block = max(64, min(512, -(-plan.footprint // 16) * 16))
    stitcher = Stitcher.for_scene(prob_path, scene, windows, weights, count=n_expressions, block_size=block)

    def sink(indices: list[int], levels: np.ndarray, valid: np.ndarray) -> None:
        stitcher.add_many([windows[i] for i in indices], levels, resize_valid(valid, plan.tile, plan.footprint))

    model = ThreadTuner(LevelsPredictor(predictor, text, plan.tile, plan.footprint), enabled=on_cpu(predictor))
    try:
        stats = run_pipeline(
            windows,
            reader.read,
            model,
            sink,
            skip=lambda index: stitcher.skip(windows[index]),
            read_many=reader.read_many,
            batch_size=batch_size,
            readers=readers,
            write_behind=readers > 0,
            progress=progress,
            progress_offset=progress_offset,
        )
        stitcher.finish()
    except BaseException:
        stitcher.close()
        raise
    finally:
        model.restore()
        reader.close()
    return stats


class LevelsPredictor:
    """The fine pass's model step: probabilities resized to the footprint, as uint8 levels.

    Resizing (bilinear, antialiased when shrinking) and quantising to the stitcher's
    0-255 levels run where the model's output is, on the GPU when there is one, and in
    the calling thread: the writer thread then only blends small uint8 arrays, and only
    a quarter of the bytes come back from the device.

    Args:
        predictor: a Predictor (``predict_logits`` used when it has it) or a look-alike.
        text: its encoded expressions.
        tile: model input side.
        footprint: window side in source pixels.
    """

    def __init__(self, predictor: PredictorLike, text: Any, tile: int, footprint: int) -> None:
        self.predictor = predictor
        self.text = text
        self.tile = tile
        self.footprint = footprint

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """``(B, 3, tile, tile)`` uint8 -> ``(B, E, footprint, footprint)`` uint8 levels."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        with torch.inference_mode():
            logits = getattr(self.predictor, "predict_logits", None)
            if logits is not None:
                probs = torch.sigmoid(logits(images, self.text))
            else:
                probs = torch.from_numpy(np.asarray(self.predictor.predict(images, self.text), dtype=np.float32))
            if self.footprint != self.tile:
                probs = F.interpolate(
                    probs, size=(self.footprint, self.footprint), mode="bilinear", align_corners=False,
                    antialias=self.footprint < self.tile,
                )
            # The stitcher's own quantisation: round half to even of p * 255 (p in [0, 1]).
            # Few ops on purpose: on a 2-core CPU each costs ~1 % of a tiny model's time.
            return probs.mul_(255.0).round_().to(torch.uint8).cpu().numpy()


def resize_valid(valid: np.ndarray, tile: int, footprint: int) -> np.ndarray:
    """``(B, tile, tile)`` validity -> ``(B, footprint, footprint)``, nearest, centre-aligned."""
    if footprint == tile:
        return valid
    index = np.minimum(((np.arange(footprint) + 0.5) * tile / footprint).astype(np.intp), tile - 1)
    return valid[:, index][:, :, index]
