"""ThreadTuner: every core only when clearly faster, a busy machine skips the trials, the count comes back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geocrobim.inference import threads as threads_module
from geocrobim.inference.threads import MARGIN, TRIALS, WARMUP, ThreadTuner


@pytest.fixture
def two_threads():
    """Torch at 2 threads for the test (CI runners may have one core), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


class Clock:
    """A fake ``time.perf_counter`` that only the model moves: timings without sleeps or noise."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(threads_module, "perf_counter", fake)
    return fake


def model(seconds: dict[int, float], seen: list[int], clock: Clock):
    """A model step taking ``seconds[threads]`` a window, recording the thread count of each call."""

    def predict(images: np.ndarray) -> np.ndarray:
        threads = torch.get_num_threads()
        seen.append(threads)
        clock.now += seconds[threads] * len(images)
        return images[:, :1].astype(np.float32)

    return predict


BATCH = np.zeros((2, 3, 4, 4), dtype=np.uint8)


@pytest.mark.parametrize(("seconds", "chosen"), [({1: 0.002, 2: 0.0026}, 1), ({1: 0.0026, 2: 0.002}, 2)])
def test_the_faster_count_runs_the_rest_of_the_pass(two_threads, clock, seconds, chosen):
    seen: list[int] = []
    tuner = ThreadTuner(model(seconds, seen, clock))
    for _ in range(WARMUP + 2 * TRIALS + 5):
        np.testing.assert_array_equal(tuner(BATCH), np.zeros((2, 1, 4, 4), np.float32))  # results pass through
    assert tuner.threads == chosen
    assert seen[:WARMUP] == [1] * WARMUP
    assert seen[WARMUP : WARMUP + 2 * TRIALS] == [1, 2] * TRIALS  # alternating trials after the warm-up
    assert seen[-5:] == [chosen] * 5
    tuner.restore()
    assert torch.get_num_threads() == 2


def test_a_clear_loser_is_dropped_after_one_trial(two_threads, clock):
    seen: list[int] = []
    tuner = ThreadTuner(model({1: 0.001, 2: 0.02}, seen, clock))  # 2 threads 20x slower: a busy machine
    for _ in range(6):
        tuner(BATCH)
    assert tuner.threads == 1 and seen.count(2) == 1
    tuner.restore()


@pytest.mark.parametrize(("gain", "chosen"), [(0.0, 1), (MARGIN / 2, 1), (2 * MARGIN, 2)])
def test_every_core_only_when_clearly_faster(two_threads, gain, chosen):
    # A free core runs the pipeline beside the model: a small gain does not pay for it.
    tuner = ThreadTuner(lambda images: images)
    tuner.timings = {1: [0.001 * (1 + gain)] * TRIALS, 2: [0.001] * TRIALS}
    tuner._decide()
    assert tuner.threads == chosen
    tuner.restore()


def test_disabled_or_single_thread_passes_straight_through(two_threads, clock):
    seen: list[int] = []
    tuner = ThreadTuner(model({1: 0.0, 2: 0.0}, seen, clock), enabled=False)
    for _ in range(4):
        tuner(BATCH)
    assert seen == [2] * 4 and tuner.threads == 2
    torch.set_num_threads(1)
    assert ThreadTuner(lambda images: images).threads == 1


def test_a_busy_machine_skips_the_trials(two_threads, monkeypatch):
    # Two threads 50x slower at the probe's parallel additions: spinning OpenMP threads
    # on a busy machine. One thread is chosen before any model call runs with two.
    ticks = {1: 0.001, 2: 0.05}
    now = [0.0]

    def clock() -> float:
        now[0] += ticks[torch.get_num_threads()]
        return now[0]

    monkeypatch.setattr(threads_module, "perf_counter", clock)
    seen: list[int] = []
    tuner = ThreadTuner(lambda images: seen.append(torch.get_num_threads()) or images)
    for _ in range(4):
        tuner(BATCH)
    assert tuner.threads == 1 and seen == [1, 1, 1, 1]
    tuner.restore()
    assert torch.get_num_threads() == 2
