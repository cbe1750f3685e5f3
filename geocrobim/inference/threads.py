"""Intra-op threads of a CPU model: every core, or one left to the pipeline.

On a CPU the model's ops run on torch's intra-op (OpenMP) threads, one per core by
default, while the pipeline's reader and writer threads read, stretch, blend and write on
the same cores. For a large model, splitting each op over every core wins and the
pipeline's work is noise beside it. For a small one (a 64 px window in a millisecond or
two, thousands of tiny ops a second) the threads' synchronisation eats most of the
parallel gain, and every pipeline thread that takes a core from an OpenMP thread stalls
the whole op at its barrier: one core for the model and one for the pipeline then beats
two for both (on the 2-core development VM, ``crobim_test``'s fine pass ran at 1.02x the
model alone with one model thread, against 1.2x with two). Which case holds depends on
the model, the window size, the machine and what else runs on it, so the first batches
of a pass measure it. The trial batches are real work (nothing is run twice).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from time import perf_counter

import numpy as np

logger = logging.getLogger(__name__)

#: Untimed calls first: the pipeline's start (cold GDAL cache, threads starting) and the
#: model's first-call costs are not its pace.
WARMUP = 2
#: Timed calls per candidate thread count.
TRIALS = 3
#: Every core is kept only when it makes the pass this much faster than one core fewer:
#: with a free core the pipeline's work runs beside the model instead of between its ops,
#: a gain the trial batches (early in the pass) do not fully show.
MARGIN = 0.10
#: After one timed call each, a candidate this many times slower loses without more trials.
CLEAR_LOSS = 1.5
#: Elements of the probe's additions: above torch's parallel grain size, so that every
#: addition is one parallel region, and small enough to take ~20 us on one idle core.
PROBE_SIZE = 1 << 18
#: Timed additions per thread count in the probe: enough to meet a stall that comes and
#: goes with the other processes' time slices (~0.3 ms in all on idle cores).
PROBE_OPS = 16


class ThreadTuner:
    """Wraps a CPU model step; picks torch's intra-op thread count from its first calls.

    After :data:`WARMUP` untimed calls, the next ``2 * trials`` calls alternate between
    ``n - 1`` and ``n`` threads (``n``: the count when the pass starts). A call's pace is
    the time from its start to the next call's start, per window: the model plus whatever
    the pipeline then makes the calling thread wait for (a read that fell behind, a full
    writer queue), so a thread count that starves the pipeline pays for it. ``n`` threads
    then run the rest of the pass only if their median pace beats ``n - 1``'s by
    :data:`MARGIN`; a count :data:`CLEAR_LOSS` times slower after one call each loses at
    once.

    A busy machine gets a cheaper test first. OpenMP threads spin at their barriers by
    default (``OMP_WAIT_POLICY``; the CLI sets it to ``PASSIVE``), and while another
    process holds one of the cores, every parallel op waits for a thread that is not
    running: the model becomes 10-100x slower, and one trial batch with ``n`` threads can
    cost a second. So before any trial, a few trivially parallel additions are timed with
    both counts; if ``n`` threads are :data:`CLEAR_LOSS` times slower at those, ``n - 1``
    is chosen at once. Call :meth:`restore` when the pass ends: the thread count is
    process-wide.

    Args:
        predict: the model step, ``images (B, 3, t, t) uint8 -> (B, ...)``, called in the
            calling thread.
        enabled: False passes every call straight through (a GPU model, whose CPU
            threads only launch kernels).
        trials: timed calls per candidate count.

    Attributes:
        start: the thread count when the pass started.
        threads: the chosen count once decided (``start`` when not tuning), else None.
        timings: per candidate count, seconds per window of its timed calls.
    """

    def __init__(
        self, predict: Callable[[np.ndarray], np.ndarray], *, enabled: bool = True, trials: int = TRIALS
    ) -> None:
        import torch

        self.predict = predict
        self.start = torch.get_num_threads()
        self.enabled = enabled and self.start > 1
        self.threads: int | None = None if self.enabled else self.start
        self.timings: dict[int, list[float]] = {self.start - 1: [], self.start: []}
        self._schedule = [self.start - 1, self.start] * trials
        self._calls = 0
        self._timing: tuple[int, float, int] | None = None  # (threads, start, windows) of the last trial call

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Run the model step (paced while the thread count is being chosen)."""
        if self.threads is not None:
            return self.predict(images)
        import torch

        now = perf_counter()
        if self._timing is not None:
            threads, started, windows = self._timing
            self.timings[threads].append((now - started) / max(1, windows))
            self._timing = None
            if self._settled():
                self._decide()
                return self.predict(images)
        self._calls += 1
        if self._calls <= WARMUP:
            if self._calls == 1 and self._oversubscribed():
                self.threads = self.start - 1
                logger.info(
                    "model threads: %d (%d threads stall at their barriers: the cores are busy)",
                    self.threads, self.start,
                )
            torch.set_num_threads(self.start - 1)
            return self.predict(images)
        threads = self._schedule[self._calls - WARMUP - 1]
        torch.set_num_threads(threads)
        self._timing = (threads, perf_counter(), len(images))
        return self.predict(images)

    def _settled(self) -> bool:
        """True once every trial ran, or when one count clearly lost its first trial."""
        fewer, every = self.timings[self.start - 1], self.timings[self.start]
        if len(fewer) + len(every) == len(self._schedule):
            return True
        return len(fewer) == len(every) == 1 and max(fewer[0], every[0]) > CLEAR_LOSS * min(fewer[0], every[0])

    def _oversubscribed(self) -> bool:
        """True if ``n`` threads are :data:`CLEAR_LOSS` times slower than ``n - 1`` at parallel additions.

        The ``n``-thread additions stop as soon as they have lost, so a stalled probe costs
        about one stalled addition, not :data:`PROBE_OPS` of them.
        """
        import torch

        x = torch.ones(PROBE_SIZE)
        torch.set_num_threads(self.start - 1)
        x.add_(1.0)
        t0 = perf_counter()
        for _ in range(PROBE_OPS):
            x.add_(1.0)
        budget = CLEAR_LOSS * (perf_counter() - t0)
        torch.set_num_threads(self.start)
        x.add_(1.0)  # start the team's threads
        t0 = perf_counter()
        for _ in range(PROBE_OPS):
            x.add_(1.0)
            if perf_counter() - t0 > budget:
                return True
        return False

    def _decide(self) -> None:
        import torch

        fewer, every = self.start - 1, self.start
        pace = {n: statistics.median(ts) for n, ts in self.timings.items()}
        self.threads = every if pace[every] * (1 + MARGIN) < pace[fewer] else fewer
        torch.set_num_threads(self.threads)
        logger.info(
            "model threads: %d (%.3f ms a window with %d, %.3f ms with %d)",
            self.threads, pace[fewer] * 1e3, fewer, pace[every] * 1e3, every,
        )

    def restore(self) -> None:
        """Put the process's thread count back to what it was when the pass started."""
        if self.enabled:
            import torch

            torch.set_num_threads(self.start)
