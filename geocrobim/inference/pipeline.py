"""The window pipeline: reader threads -> batched model -> writer thread.

Reading (GDAL decode, resampling, stretch to uint8) and stitching (weighting,
accumulating, flushing rows to disk) overlap the model's compute:

    reader threads --(bounded deque of futures, one per group of windows, in order)--> main thread
    main thread: drops windows without valid pixels, batches the rest, runs ``predict``
    main thread --(bounded queue of batches)--> writer thread: ``sink``

Windows travel in groups: a read, a future and a validity check per read group, a queue
hand-off per sink group, not per window. With a model that takes a millisecond
or two per window (a small model on a CPU), the per-window Python of a window-by-window pipeline
(futures, locks, thread switches, small array copies) is a measurable share of the run.
The deque of read futures keeps windows in grid order (the stitcher flushes rows in
order) while several readers work ahead; its depth bounds memory. GDAL, numpy and
torch all release the GIL in their heavy loops, so the threads really overlap.
Windows with no valid pixel (nodata, alpha, internal mask) never reach the model.
With ``readers=0`` and ``write_behind=False`` everything runs in turn in the calling
thread: no overlap, but no thread competes with the model's own threads either.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: ``read(window) -> (image (3, t, t) uint8, valid (t, t) bool)``; must be thread-safe.
ReadFn = Callable[[Any], tuple[np.ndarray, np.ndarray]]
#: ``read_many(windows) -> (images (n, 3, t, t) uint8, valid (n, t, t) bool)``; thread-safe;
#: the arrays are new (the model and the sink keep them).
ReadManyFn = Callable[[Sequence[Any]], tuple[np.ndarray, np.ndarray]]
#: ``predict(images (B, 3, t, t) uint8) -> probabilities (B, E, t, t) float32``.
PredictFn = Callable[[np.ndarray], np.ndarray]
#: ``sink(indices, probabilities (B, E, t, t), valid (B, t, t))``, called in window order.
SinkFn = Callable[[list[int], np.ndarray, np.ndarray], None]
#: ``skip(index)`` for a window with no valid pixel, in window order (maybe before earlier windows' sink).
SkipFn = Callable[[int], None]
ProgressFn = Callable[[int, int], None]
#: A run of consecutive windows: ``(indices, images or probabilities, valid)``.
Part = tuple[list[int], np.ndarray, np.ndarray]

_DONE = object()


@dataclass
class PipelineStats:
    """What one pass cost.

    Attributes:
        total: windows in the pass.
        run: windows that went through the model.
        skipped: windows with no valid pixel.
        predict_calls: model calls (batches).
        predict_s: seconds inside ``predict`` (the model's busy time).
        wall_s: seconds for the whole pass.
    """

    total: int = 0
    run: int = 0
    skipped: int = 0
    predict_calls: int = 0
    predict_s: float = 0.0
    wall_s: float = 0.0
    ran: list[int] = field(default_factory=list, repr=False)


class _Writer(threading.Thread):
    """Runs queued ``(function, args)`` calls (sink, skip) in order; keeps the first error."""

    def __init__(self, depth: int) -> None:
        super().__init__(name="geocrobim-writer", daemon=True)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None

    def run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _DONE:
                return
            if self.error is None:  # after an error keep draining so the producer never blocks
                try:
                    function, args = item
                    function(*args)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                    self.error = exc

    def put(self, item: Any) -> None:
        """Queue a batch, raising the writer's error instead of blocking on a dead writer."""
        while True:
            self.check()
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        """Let the queue drain, stop the thread and raise its error if it had one."""
        self.queue.put(_DONE)
        self.join()
        self.check()


class _InlineWriter:
    """The writer's interface, running each call at once in the calling thread."""

    def start(self) -> None:
        pass

    def put(self, item: Any) -> None:
        function, args = item
        function(*args)

    def finish(self) -> None:
        pass


class _InlinePool:
    """The reader pool's interface, reading at once in the calling thread."""

    def __enter__(self) -> _InlinePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(function(*args))
        except BaseException as exc:  # noqa: BLE001 - raised by .result() like a pool's future
            future.set_exception(exc)
        return future


def stacked(read: ReadFn) -> ReadManyFn:
    """A ``read_many`` made of one ``read`` per window."""

    def read_many(windows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        reads = [read(window) for window in windows]
        return np.stack([r[0] for r in reads]), np.stack([r[1] for r in reads])

    return read_many


def _skip_each(skip: SkipFn, indices: list[int]) -> None:
    for index in indices:
        skip(index)


def _join(parts: Sequence[Part]) -> Part:
    """Consecutive runs of windows ``(indices, arrays, arrays)`` as one (no copy for a single run)."""
    if len(parts) == 1:
        return parts[0]
    return (
        [i for part in parts for i in part[0]],
        np.concatenate([part[1] for part in parts]),
        np.concatenate([part[2] for part in parts]),
    )


def _sink_joined(sink: SinkFn, parts: list[Part]) -> None:
    """One ``sink`` call for several consecutive batches (joined in the writer thread)."""
    sink(*_join(parts))


class _Batcher:
    """Cuts runs of valid windows (indices, images, valid) into model batches of a fixed size.

    Batches are views of the read groups when a group holds them (no copy); only a batch
    that spans groups (or the gaps that invalid windows leave) is joined by a copy, so
    that model calls stay full.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.parts: deque[Part] = deque()
        self.count = 0

    def add(self, indices: list[int], images: np.ndarray, valid: np.ndarray) -> None:
        if indices:
            self.parts.append((indices, images, valid))
            self.count += len(indices)

    def take(self, final: bool = False) -> Part | None:
        """The next full batch (or with ``final``, whatever is left); None if there is none."""
        if self.count < self.size and not (final and self.count):
            return None
        need = min(self.size, self.count)
        self.count -= need
        pieces = []
        while need:
            indices, images, valid = self.parts[0]
            k = min(need, len(indices))
            pieces.append((indices[:k], images[:k], valid[:k]))
            if k < len(indices):
                self.parts[0] = (indices[k:], images[k:], valid[k:])
            else:
                self.parts.popleft()
            need -= k
        return _join(pieces)


def run_pipeline(
    windows: Sequence[Any],
    read: ReadFn,
    predict: PredictFn,
    sink: SinkFn,
    *,
    skip: SkipFn | None = None,
    batch_size: int = 4,
    readers: int = 2,
    write_behind: bool = True,
    progress: ProgressFn | None = None,
    progress_offset: int = 0,
    progress_total: int | None = None,
    read_many: ReadManyFn | None = None,
    read_group: int | None = None,
    sink_group: int | None = None,
) -> PipelineStats:
    """Run ``predict`` over ``windows`` with reading and writing overlapped.

    Args:
        windows: the windows to process, in the order the sink needs them.
        read: reads one window; called from reader threads.
        predict: the batched model; called from the calling thread.
        sink: receives each batch's probabilities in window order; called from the
            writer thread.
        skip: told about windows with no valid pixel (writer thread, in window order; a
            skip may come before the ``sink`` of earlier windows still being grouped).
        batch_size: windows per model call (and, unless given, per read group and sink call).
        readers: reader threads; 0 reads in the calling thread, between model calls.
        write_behind: run ``sink`` and ``skip`` on a writer thread; False runs them in the
            calling thread (no overlap, no thread switching).
        progress: ``(done, total)`` callback, called from the calling thread.
        progress_offset: windows already done by an earlier pass (for one progress bar
            over several passes).
        progress_total: total for the progress bar; defaults to ``len(windows)``.
        read_many: reads a group of consecutive windows at once (None: ``read`` on each);
            lets a reader share work between neighbouring windows.
        read_group: windows per read (None: ``batch_size``). Bigger groups mean fewer,
            longer turns of the reader thread at the interpreter lock, which the model's
            thread (taking the lock back after every op) then waits for less often.
        sink_group: windows per ``sink`` call (None: ``batch_size``): consecutive batches
            are handed to the writer together once they hold this many windows, so the
            writer thread wakes (and takes the lock) once per group, not per batch.

    Returns:
        The pass's statistics.
    """
    group_size = read_group if read_group is not None else batch_size
    if batch_size < 1 or readers < 0 or group_size < 1:
        raise ValueError(
            f"batch_size ({batch_size}) and read_group ({group_size}) must be at least 1 "
            f"and readers ({readers}) at least 0"
        )
    stats = PipelineStats(total=len(windows))
    total = progress_total if progress_total is not None else len(windows) + progress_offset
    start = time.perf_counter()
    reader = read_many if read_many is not None else stacked(read)
    writer: _Writer | _InlineWriter = _Writer(depth=2) if write_behind else _InlineWriter()
    writer.start()
    # Work ahead by two groups: enough to hide read latency behind the model calls, few
    # enough that memory stays a few dozen windows.
    depth = max(2, readers) if readers else 1
    pending: deque[tuple[range, Future[tuple[np.ndarray, np.ndarray]]]] = deque()
    batcher = _Batcher(batch_size)
    held: list[Part] = []  # batches run, not yet handed to the writer
    sink_size = sink_group if sink_group is not None else batch_size
    done = 0

    def hand_over(final: bool = False) -> None:
        if held and (final or sum(len(part[0]) for part in held) >= sink_size):
            writer.put((_sink_joined, (sink, list(held))))
            held.clear()

    def report() -> None:
        if progress is not None:
            progress(progress_offset + done, total)

    def run(batch: Part) -> None:
        nonlocal done
        indices, images, valid = batch
        t0 = time.perf_counter()
        probs = predict(images)
        stats.predict_s += time.perf_counter() - t0
        stats.predict_calls += 1
        stats.run += len(indices)
        stats.ran.extend(indices)
        held.append((indices, probs, valid))
        hand_over()
        done += len(indices)
        report()

    def consume(group: range, images: np.ndarray, valid: np.ndarray) -> None:
        nonlocal done
        # nodata / alpha / masked everywhere: such a window costs its read only.
        keep = valid.reshape(len(group), -1).any(axis=1)
        if keep.all():
            batcher.add(list(group), images, valid)
        else:
            dropped = [group[i] for i in np.flatnonzero(~keep)]
            stats.skipped += len(dropped)
            done += len(dropped)
            if skip is not None:
                writer.put((_skip_each, (skip, dropped)))
            chosen = np.flatnonzero(keep)
            batcher.add([group[i] for i in chosen], images[chosen], valid[chosen])
        while (batch := batcher.take()) is not None:
            run(batch)

    failed = True
    try:
        pool = (
            ThreadPoolExecutor(max_workers=readers, thread_name_prefix="geocrobim-read") if readers else _InlinePool()
        )
        with pool:
            groups = iter(
                range(i, min(i + group_size, len(windows))) for i in range(0, len(windows), group_size)
            )

            def submit_next() -> None:
                group = next(groups, None)
                if group is not None:
                    pending.append((group, pool.submit(reader, [windows[i] for i in group])))

            try:
                for _ in range(depth):
                    submit_next()
                while pending:
                    group, future = pending.popleft()
                    submit_next()
                    consume(group, *future.result())
                if (batch := batcher.take(final=True)) is not None:
                    run(batch)
                hand_over(final=True)
            finally:
                for _, future in pending:
                    future.cancel()
        failed = False
    finally:
        if failed:  # the original error wins over anything the writer says while stopping
            try:
                writer.finish()
            except BaseException:
                logger.debug("writer error while stopping after a failure", exc_info=True)
        else:
            writer.finish()
    report()
    stats.wall_s = time.perf_counter() - start
    return stats
