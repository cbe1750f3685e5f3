"""The threaded pipeline: order, batching, skipping, bounded read-ahead, errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from geocrobim.inference.pipeline import run_pipeline


def reader(invalid: set[int] = frozenset(), delay: float = 0.0, fail_at: int | None = None):
    """Windows are ints; window i reads as an image filled with i (mod 256)."""

    def read(window: int) -> tuple[np.ndarray, np.ndarray]:
        if delay:
            time.sleep(delay * ((window * 7) % 3))  # uneven latency: reads finish out of order
        if window == fail_at:
            raise OSError(f"read failed at {window}")
        valid = np.full((4, 4), window not in invalid)
        return np.full((3, 4, 4), window % 256, dtype=np.uint8), valid

    return read


def predict(images: np.ndarray) -> np.ndarray:
    return images[:, :1].astype(np.float32)  # (B, 1, 4, 4): the window's index


@pytest.mark.parametrize("readers", [1, 3])
def test_sink_sees_every_valid_window_once_in_order(readers):
    seen: list[int] = []
    values: list[float] = []
    skipped: list[int] = []

    def sink(indices, probs, valid):
        seen.extend(indices)
        values.extend(float(p[0, 0, 0]) for p in probs)

    windows = list(range(23))
    stats = run_pipeline(
        windows, reader({3, 4, 10}, delay=0.001), predict, sink, skip=skipped.append, batch_size=4, readers=readers
    )
    expected = [w for w in windows if w not in {3, 4, 10}]
    assert seen == expected and values == [float(w) for w in expected]
    assert skipped == [3, 4, 10]
    assert (stats.total, stats.run, stats.skipped, stats.predict_calls) == (23, 20, 3, 5)
    assert stats.ran == expected


def test_sink_and_skip_run_on_one_writer_thread_and_progress_counts_everything():
    threads: set[str] = set()
    progress: list[tuple[int, int]] = []

    def sink(indices, probs, valid):
        threads.add(threading.current_thread().name)

    run_pipeline(
        list(range(10)), reader({0}), predict, sink, skip=lambda i: threads.add(threading.current_thread().name),
        batch_size=3, progress=lambda d, t: progress.append((d, t)), progress_offset=5, progress_total=15,
    )
    assert threads == {"geocrobim-writer"}
    assert progress[-1] == (15, 15) and all(t == 15 for _, t in progress)


def test_fewer_windows_than_the_read_ahead_and_no_windows():
    seen: list[int] = []
    values: list[float] = []

    def sink(indices, probs, valid):
        seen.extend(indices)  # positions in the window list
        values.extend(float(p[0, 0, 0]) for p in probs)

    stats = run_pipeline([7], reader(), predict, sink, batch_size=8, readers=4)
    assert seen == [0] and values == [7.0] and stats.predict_calls == 1
    stats = run_pipeline([], reader(), predict, sink)
    assert stats.total == 0 and stats.predict_calls == 0


def test_groups_are_read_at_once_and_thinned_batches_are_refilled():
    groups: list[list[int]] = []
    batches: list[list[int]] = []
    read = reader({1, 2, 9})

    def read_many(windows):
        groups.append(list(windows))
        reads = [read(w) for w in windows]
        return np.stack([r[0] for r in reads]), np.stack([r[1] for r in reads])

    def sink(indices, probs, valid):
        batches.append(list(indices))
        assert [float(p[0, 0, 0]) for p in probs] == [float(i) for i in indices]  # images stay with their index

    stats = run_pipeline(list(range(14)), read, predict, sink, batch_size=4, readers=1, read_many=read_many)
    assert groups == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13]]
    assert batches == [[0, 3, 4, 5], [6, 7, 8, 10], [11, 12, 13]]  # full model calls despite the gaps
    assert (stats.run, stats.skipped, stats.predict_calls) == (11, 3, 3)


def test_read_ahead_is_bounded():
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def read(window: int) -> tuple[np.ndarray, np.ndarray]:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        return np.zeros((3, 4, 4), np.uint8), np.ones((4, 4), bool)

    def slow_predict(images: np.ndarray) -> np.ndarray:
        nonlocal in_flight
        time.sleep(0.002)
        with lock:
            in_flight -= len(images)
        return np.zeros((len(images), 1, 4, 4), np.float32)

    run_pipeline(list(range(200)), read, slow_predict, lambda *a: None, batch_size=4, readers=2)
    assert most <= 2 * 4 + 4  # read-ahead depth (two batches) plus the batch being filled


@pytest.mark.parametrize("where", ["read", "predict", "sink", "skip"])
def test_errors_reach_the_caller_and_threads_stop(where):
    def bad_predict(images: np.ndarray) -> np.ndarray:
        raise RuntimeError("predict failed")

    def bad_sink(*args: object) -> None:
        raise RuntimeError("sink failed")

    options = {
        "read": (reader(fail_at=13), predict, lambda *a: None, None),
        "predict": (reader(), bad_predict, lambda *a: None, None),
        "sink": (reader(), predict, bad_sink, None),
        "skip": (reader({5}), predict, lambda *a: None, bad_sink),
    }[where]
    before = threading.active_count()
    with pytest.raises((OSError, RuntimeError), match="failed"):
        run_pipeline(list(range(40)), options[0], options[1], options[2], skip=options[3], batch_size=2)
    time.sleep(0.05)
    assert threading.active_count() <= before


def test_bad_batch_size_is_refused():
    with pytest.raises(ValueError):
        run_pipeline([1], reader(), predict, lambda *a: None, batch_size=0)
