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
from numpy.lib.stride_tricks import sliding_window_view
from rasterio.enums import Resampling
from rasterio.windows import Window

from geocrobim.inference.grounding import CoarseGrid, CoarseMap, candidates, plan_coarse, select_windows
from geocrobim.inference.pipeline import PipelineStats, ProgressFn, run_pipeline
from geocrobim.inference.quicklook_canvas import QuicklookCanvas
from geocrobim.inference.read_plan import ReadPlan
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
    def encode_text(self, expressions: Sequence[str], *, warn_user: bool = True) -> Any: ...
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
        if self._from_source(window):
            chunk, col = self._chunk_of(window)
            return chunk.rgb_windows[col], chunk.valid_windows[col]
        return self._read(window, self.out_shape)

    def read_many(self, windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb (n, 3, h, w) uint8, valid (n, h, w) bool)`` of consecutive windows at ``out_shape``.

        The windows a chunk holds are gathered from it into the batch array the model
        receives with one indexing per array: a handful of numpy calls per batch instead
        of two copies and a dozen Python lines per window, which matters because this
        runs on a reader thread that shares the interpreter lock with the model's thread.
        """
        n = len(windows)
        rgb = np.empty((n, 3, *self.out_shape), dtype=np.uint8)
        valid = np.empty((n, *self.out_shape), dtype=bool)
        i = 0
        while i < n:
            if not self._from_source(windows[i]):
                rgb[i], valid[i] = self._read(windows[i], self.out_shape)
                i += 1
                continue
            chunk, col = self._chunk_of(windows[i])
            cols = [col]
            while i + len(cols) < n and self._from_source(following := windows[i + len(cols)]):
                if not chunk.holds(following, self.out_shape):
                    break
                cols.append(int(following.col_off) - chunk.col)
            j = i + len(cols)
            # Advanced indexing walks the strided view (np.take would first copy all of it).
            rgb[i:j] = chunk.rgb_windows[cols]
            valid[i:j] = chunk.valid_windows[cols]
            i = j
        return rgb, valid

    def _from_source(self, window: Window) -> bool:
        """True if the window is read at the source's resolution (served from a chunk)."""
        return (window.height, window.width) == self.out_shape and _integral(window)

    def _chunk_of(self, window: Window) -> tuple[_Chunk, int]:
        """The chunk holding ``window`` (read now if this thread's chunk does not), and its column in it."""
        chunk: _Chunk | None = getattr(self._local, "chunk", None)
        if chunk is None or not chunk.holds(window, self.out_shape):
            col, row, (height, width) = int(window.col_off), int(window.row_off), self.out_shape
            span = Window(col, row, max(width, CHUNK), height)
            chunk = self._local.chunk = _Chunk(col, row, *self._read(span, (height, int(span.width))), width)
        return chunk, int(window.col_off) - chunk.col

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

    def close(self) -> None:
        with self._lock:
            for src in self._opened:
                src.close()
            self._opened.clear()


#: Source columns read at once for windows at the source's resolution (see SceneReader).
CHUNK = 2048
#: Windows per read of the fine pass, and per blend of its sink. The model's thread takes
#: the interpreter lock back after every op; each turn of the reader or the writer at the
#: lock can make it wait, so fewer, bigger turns (a read of 32 windows, a blend of 32
#: windows) leave it waiting less often than one of each per model batch.
FINE_GROUP = 32


def _integral(window: Window) -> bool:
    return all(float(v).is_integer() for v in (window.col_off, window.row_off, window.width, window.height))


class _Chunk:
    """Source columns ``[col, col + width)`` of the rows ``[row, row + height)``, read once.

    Args:
        col: first column.
        row: first row.
        rgb: ``(3, height, width)`` uint8 stretched data.
        valid: ``(height, width)`` bool validity.
        window_width: width of the windows cut from it.

    Attributes:
        rgb_windows: ``(width - window_width + 1, 3, height, window_width)`` view: the
            window starting at each column, for gathering a run of windows with one take.
        valid_windows: the same for ``valid``.
    """

    def __init__(self, col: int, row: int, rgb: np.ndarray, valid: np.ndarray, window_width: int) -> None:
        self.col, self.row = col, row
        self.rgb, self.valid = rgb, valid
        self.rgb_windows = sliding_window_view(rgb, window_width, axis=2).transpose(2, 0, 1, 3)
        self.valid_windows = sliding_window_view(valid, window_width, axis=1).transpose(1, 0, 2)

    def holds(self, window: Window, shape: tuple[int, int]) -> bool:
        """True if ``window`` (of ``shape``, integral offsets) lies in the chunk's columns and has its rows."""
        col = int(window.col_off)
        return (
            int(window.row_off) == self.row
            and shape[0] == self.rgb.shape[1]
            and self.col <= col
            and col + shape[1] <= self.col + self.rgb.shape[2]
        )


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
    always: bool = False,
) -> CoarseOutcome | None:
    """Run the model over a downsampled view of the whole scene; None if not worth it.

    ``always`` runs it on any scene (at the reading GSD when the scene is only a few windows
    wide): the river's view (:func:`geocrobim.inference.grounding.plan_coarse`).
    """
    grid = plan_coarse(scene.width, scene.height, plan, always=always)
    if grid is None:
        logger.info("scene is only a few windows wide: no coarse pass, every window runs")
        return None
    logger.info(
        "%s pass: %dx%d view (%.1fx downsampled), %d windows",
        "river" if always else "coarse", grid.width, grid.height, grid.factor, len(grid.windows),
    )
    blend = CoarseMap(grid, n_expressions)
    # Averaging is the right filter for a large reduction; GDAL serves it from overviews if any.
    reader = SceneReader(scene, stretch, (grid.tile, grid.tile), Resampling.average, canvas)
    model = make_predict(predictor, text)
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
    union = np.asarray(coarse.candidates.any(axis=0))
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

    model = LevelsPredictor(predictor, text, plan.tile, plan.footprint)
    try:
        stats = run_pipeline(
            windows,
            reader.read,
            model,
            sink,
            skip=lambda index: stitcher.skip(windows[index]),
            read_many=reader.read_many,
            read_group=max(batch_size, FINE_GROUP),
            sink_group=max(batch_size, FINE_GROUP),
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
        import torch.nn.functional as F

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
            # Quantised to levels here, as the stitcher quantises float input, but with torch's
            # round (half to even) where the stitcher rounds half up: they differ by one level
            # only where p * 255 is exactly x.5.
            # Few ops on purpose: on a 2-core CPU each costs ~1 % of a tiny model's time.
            return probs.mul_(255.0).round_().to(torch.uint8).cpu().numpy()


def resize_valid(valid: np.ndarray, tile: int, footprint: int) -> np.ndarray:
    """``(B, tile, tile)`` validity -> ``(B, footprint, footprint)``, nearest, centre-aligned."""
    if footprint == tile:
        return valid
    index = np.minimum(((np.arange(footprint) + 0.5) * tile / footprint).astype(np.intp), tile - 1)
    return valid[:, index][:, :, index]
