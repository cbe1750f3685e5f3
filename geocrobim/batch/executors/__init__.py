"""Executors: who runs the items. All of them return outcomes to the driver's
:class:`~geocrobim.batch.executors.tasks.TaskQueue`; none writes the ledger.

- ``local``, one worker: :class:`.inprocess.InProcessExecutor` (the driver itself);
- ``local``, N workers: :class:`.pool.ProcessPoolExecutor` (one process per GPU by default);
- ``ray``: :class:`.ray_cluster.RayExecutor` (one actor per GPU or CPU slot of a cluster).

Nothing here imports torch or Ray at import time.
"""

from __future__ import annotations

from typing import Protocol

from geocrobim.batch.executors.devices import visible_gpus, wants_gpu
from geocrobim.batch.executors.tasks import Task, TaskQueue
from geocrobim.batch.worker import JobSpec
from geocrobim.errors import UsageError

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    def run(self, queue: TaskQueue) -> None:
        """Drain ``queue``, reporting one outcome per attempt."""


def default_workers(device: str) -> int:
    """Local workers when ``--workers`` is not given: one per visible GPU, else one."""
    return max(1, len(visible_gpus())) if wants_gpu(device) else 1


def make_executor(
    name: str, job: JobSpec, *, workers: int | None = None, address: str | None = None
) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``).

    Raises:
        UsageError: unknown name, bad worker count, or ``--address`` without Ray.
    """
    if name not in EXECUTORS:
        raise UsageError(f"--executor {name!r} is not one of {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"--workers {workers!r} must be a whole number >= 1")
    if name == "ray":
        from geocrobim.batch.executors.ray_cluster import RayExecutor

        return RayExecutor(job, workers, address)
    if address is not None:
        raise UsageError("--address is for --executor ray; add --executor ray or drop --address")
    count = workers or default_workers(job.device)
    if count == 1:
        from geocrobim.batch.executors.inprocess import InProcessExecutor

        return InProcessExecutor(job)
    from geocrobim.batch.executors.pool import ProcessPoolExecutor

    return ProcessPoolExecutor(job, count)


__all__ = ["EXECUTORS", "Executor", "Task", "TaskQueue", "default_workers", "make_executor"]
