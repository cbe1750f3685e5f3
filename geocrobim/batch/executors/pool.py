"""N worker processes on one machine, each holding the model, fed one item at a time.

Processes are started with ``spawn`` (safe with CUDA and threads). On a machine with
GPUs each worker is pinned to one GPU through ``CUDA_VISIBLE_DEVICES`` before it imports
torch (worker k gets GPU k mod #GPUs); on the CPU the cores are shared out through the
thread count. Workers only return outcomes; the driver writes the ledger.

A worker that dies (killed, out of memory) is replaced and its item retried (see
:mod:`.tasks`). Workers exit on their own when the driver disappears (even by SIGKILL),
so a killed batch leaves no orphan writing into the output folder.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from geocrobim import errors
from geocrobim.batch.executors.devices import visible_gpus, wants_gpu
from geocrobim.batch.executors.tasks import Task, TaskQueue
from geocrobim.batch.worker import JobSpec, load_predictor, process_item
from geocrobim.errors import one_line
from geocrobim.process_settings import OMP_WAIT_POLICY

logger = logging.getLogger(__name__)

#: Seconds between checks that the driver is still alive.
_PARENT_POLL_S = 0.5


@dataclass
class _Slot:
    """One worker process and the task it holds."""

    index: int
    process: Any
    conn: Connection
    ready: bool = False
    task: Task | None = None


class ProcessPoolExecutor:
    """Run tasks in ``workers`` processes.

    Args:
        job: the batch's job description.
        workers: number of processes.
        gpus: GPU ids to pin workers to (default: :func:`visible_gpus` when the device
            allows GPUs); empty: CPU workers, each with ``cpu_count // workers`` threads.
    """

    def __init__(self, job: JobSpec, workers: int, gpus: list[str] | None = None) -> None:
        self.job = job
        self.workers = workers
        self.gpus = (visible_gpus() if wants_gpu(job.device) else []) if gpus is None else gpus
        self.restarts_left = 0
        self._ctx = mp.get_context("spawn")

    def _environment(self, index: int) -> tuple[dict[str, str], int | None]:
        """Variables set in worker ``index`` before torch loads, and its torch thread count."""
        wait = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", OMP_WAIT_POLICY)}
        if self.gpus:
            return {**wait, "CUDA_VISIBLE_DEVICES": self.gpus[index % len(self.gpus)]}, None
        threads = int(os.environ.get("OMP_NUM_THREADS") or max(1, (os.cpu_count() or 1) // self.workers))
        return {**wait, "OMP_NUM_THREADS": str(threads)}, threads

    def _start(self, index: int) -> _Slot:
        parent, child = self._ctx.Pipe()
        level = logging.getLogger("geocrobim").getEffectiveLevel()
        env, threads = self._environment(index)
        process = self._ctx.Process(
            target=worker_main, args=(child, self.job, env, threads, index, os.getpid(), level),
            name=f"geocrobim-batch-{index}", daemon=True,
        )
        process.start()
        child.close()
        return _Slot(index, process, parent)

    def run(self, queue: TaskQueue) -> None:
        if not queue.pending:
            return
        self.restarts_left = self.workers * (queue.retries + 1)
        slots = [self._start(k) for k in range(min(self.workers, len(queue.pending)))]
        try:
            while queue.pending or any(s.task for s in slots):
                for slot in slots:
                    if slot.ready and slot.task is None and (task := queue.next()) is not None:
                        slot.task = task  # if the worker has died, _step finds it and the task is lost
                        try:
                            slot.conn.send(task.item)
                        except OSError:
                            pass
                if not slots:
                    queue.fail_rest("every worker process died; see the errors above and the ledger")
                    break
                self._step(slots, queue)
        finally:
            _stop(slots)

    def _step(self, slots: list[_Slot], queue: TaskQueue) -> None:
        """Wait for a message or a death, and act on it."""
        handles: list[Any] = [s.conn for s in slots] + [s.process.sentinel for s in slots]
        ready = wait(handles, timeout=1.0)
        for slot in list(slots):
            dead = False
            if slot.conn in ready:
                try:
                    kind, payload = slot.conn.recv()
                except (EOFError, OSError):  # the worker's end closed: it is gone
                    kind, payload, dead = "eof", None, True
                if kind == "ready":
                    slot.ready = True
                elif kind == "done" and slot.task is not None:
                    task, slot.task = slot.task, None
                    queue.done(task, payload)
                elif kind == "fatal":
                    raise _rebuild(*payload)
            if dead or (not slot.process.is_alive() and not slot.conn.poll()):
                self._replace(slot, slots, queue)

    def _replace(self, slot: _Slot, slots: list[_Slot], queue: TaskQueue) -> None:
        slot.process.join(0.1)
        reason = f"worker process {slot.index} exited with code {slot.process.exitcode}"
        logger.warning("%s", reason)
        slots.remove(slot)
        slot.conn.close()
        if slot.task is not None:
            queue.lost(slot.task, reason)
        if self.restarts_left > 0 and (queue.pending or any(s.task for s in slots)):
            self.restarts_left -= 1
            slots.append(self._start(slot.index))


def _stop(slots: list[_Slot]) -> None:
    for slot in slots:
        try:
            slot.conn.send(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + 10
    for slot in slots:
        slot.process.join(max(0.1, deadline - time.monotonic()))
        if slot.process.is_alive():  # stuck in a scene: the run is over, its staging is discarded
            slot.process.terminate()
            slot.process.join(5)
        slot.conn.close()


def _rebuild(kind: str, message: str) -> Exception:
    """A worker's start-up error as the same geocrobim error class in the driver."""
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, errors.GeoCrobimError):
        return cls(message)
    return errors.GeoCrobimError(f"a batch worker could not start: {message}")


def _exit_with_parent(parent: int) -> None:
    """Exit when the driver is gone (its pipe may stay open in a sibling's hands)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL_S)
        os._exit(3)

    threading.Thread(target=watch, name="geocrobim-parent-watch", daemon=True).start()


def worker_main(conn: Connection, job: JobSpec, env: dict[str, str], threads: int | None, index: int, parent: int,
                level: int) -> None:
    """A worker process: load the model once, then segment the items sent by the driver."""
    os.environ.update(env)  # before torch is imported: CUDA_VISIBLE_DEVICES, OMP_NUM_THREADS
    _exit_with_parent(parent)
    _log_to_stderr(index, level)
    try:
        predictor = load_predictor(job)
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
    except Exception as exc:  # noqa: BLE001 - sent to the driver, which raises it
        conn.send(("fatal", (type(exc).__name__, one_line(exc))))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        conn.send(("done", process_item(item, job, predictor)))


def _log_to_stderr(index: int, level: int) -> None:
    root = logging.getLogger("geocrobim")
    root.setLevel(level)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(f"geocrobim[worker {index}]: %(levelname)s: %(message)s"))
    root.addHandler(handler)
    root.propagate = False
