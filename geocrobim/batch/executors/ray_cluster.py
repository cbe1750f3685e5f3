"""``--executor ray``: one model-holding actor per GPU (or per CPU slot) of a Ray cluster.

The driver (the process running ``geocrobim batch``) connects to the cluster, starts
the actors spread over the nodes, and feeds each one item at a time; results come back
to the driver, which alone writes the ledger. Workers write the scene outputs straight
into the output folder, which must therefore be the same path on every node (a shared
file system); the atomic staging rename of :mod:`geocrobim.batch.worker` means a task
killed with its node leaves no partial scene folder.

Failures: actors are created with ``max_restarts=0`` and the driver does the recovery.
When an actor dies (its node lost, its process killed), the item it held is recorded as
``lost`` and handed to a healthy actor (up to ``retries`` times), and a replacement
actor is requested; it takes work once Ray has placed it. Re-submitting to a healthy
actor, rather than Ray's ``max_task_retries``, never leaves an item waiting on an actor
that cannot be placed again (the lost node held its resources).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from geocrobim.batch.executors.tasks import Task, TaskQueue
from geocrobim.batch.items import BatchItem
from geocrobim.batch.worker import JobSpec, load_predictor, process_item
from geocrobim.errors import DependencyError

logger = logging.getLogger(__name__)

#: Seconds to wait for a first actor when none is alive, before failing what is left.
START_TIMEOUT_S = 600.0


class SceneActor:
    """The Ray actor: loads the model once, then segments items (undecorated here so
    that importing this module needs no Ray; :class:`RayExecutor` wraps it)."""

    def __init__(self, job: JobSpec) -> None:
        self.job = job
        self.predictor = load_predictor(job)

    def ping(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def process(self, item: BatchItem) -> dict[str, Any]:
        return process_item(item, self.job, self.predictor)


def import_ray() -> Any:
    """Ray, or a DependencyError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise DependencyError(
            "--executor ray needs Ray; install it with: pip install 'geocrobim[ray]' (or pip install 'ray>=2.9')"
        ) from None
    return ray


@dataclass
class _Actor:
    handle: Any
    ready: bool = False
    task: Task | None = None
    since: float = field(default_factory=time.monotonic)


class RayExecutor:
    """Run tasks on Ray actors.

    Args:
        job: the batch's job description (its output folder must be shared by all nodes).
        workers: number of actors (default: the cluster's GPUs, else its CPUs).
        address: the cluster (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``); None: the
            ``RAY_ADDRESS`` variable, else a local Ray started for this run.
        start_timeout: seconds without any live actor after which the rest fails.

    Raises:
        DependencyError: Ray is not installed.
    """

    def __init__(self, job: JobSpec, workers: int | None = None, address: str | None = None,
                 start_timeout: float = START_TIMEOUT_S) -> None:
        import_ray()  # fail before the run starts, not after the ledger is opened
        self.job = job
        self.workers = workers
        self.address = address
        self.start_timeout = start_timeout

    def run(self, queue: TaskQueue) -> None:
        if not queue.pending:
            return
        ray = import_ray()
        connected_here = not ray.is_initialized()
        if connected_here:
            verbose = logging.getLogger("geocrobim").getEffectiveLevel() <= logging.DEBUG
            options: dict[str, Any] = {
                "log_to_driver": verbose, "logging_level": logging.INFO if verbose else logging.WARNING
            }
            if self.address is None and "RAY_ADDRESS" not in os.environ:
                options["include_dashboard"] = False
            ray.init(address=self.address, **options)
        handles: list[Any] = []
        try:
            _Loop(ray, self, queue, handles).run()
        finally:
            for handle in handles:
                try:
                    ray.kill(handle, no_restart=True)
                except Exception:  # noqa: BLE001 - already gone with its node
                    pass
            if connected_here:
                ray.shutdown()


class _Loop:
    """The driver's dispatch loop: idle actors, and actors with an outstanding call."""

    def __init__(self, ray: Any, executor: RayExecutor, queue: TaskQueue, handles: list[Any]) -> None:
        self.ray = ray
        self.job = executor.job
        self.queue = queue
        self.handles = handles
        self.inflight: dict[Any, _Actor] = {}  # object ref of a ping or process call -> its actor
        self.idle: list[_Actor] = []
        self.start_timeout = executor.start_timeout
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if self.job.device != "cpu" else 0
        count = executor.workers or gpus or max(1, int(resources.get("CPU", 1)))
        self.count = min(count, len(queue.pending))
        self.actor_class = ray.remote(
            num_gpus=1 if gpus else 0, num_cpus=1, max_restarts=0, max_concurrency=1, scheduling_strategy="SPREAD"
        )(SceneActor)
        self.replacements = self.count * (queue.retries + 1)
        logger.info("Ray: %d actor(s) on %s", self.count, f"{gpus} GPU(s)" if gpus else "CPU slots")

    def _spawn(self) -> None:
        handle = self.actor_class.remote(self.job)
        self.handles.append(handle)
        self.inflight[handle.ping.remote()] = _Actor(handle)

    def run(self) -> None:
        for _ in range(self.count):
            self._spawn()
        while self.queue.pending or any(a.task for a in self.inflight.values()):
            while self.idle and self.queue.pending:
                actor, task = self.idle.pop(), self.queue.next()
                actor.task = task
                self.inflight[actor.handle.process.remote(task.item)] = actor  # type: ignore[union-attr]  # an actor in the idle list has a live handle
            if not self.inflight or self._starved():
                self.queue.fail_rest("no Ray actor is alive or could be started; check the cluster's resources")
                break
            ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=1.0)
            for ref in ready:
                self._collect(ref, self.inflight.pop(ref))

    def _starved(self) -> bool:
        """No live actor, and the ones being started have waited ``start_timeout`` seconds."""
        if self.idle or any(a.ready for a in self.inflight.values()):
            return False
        return all(time.monotonic() - a.since > self.start_timeout for a in self.inflight.values())

    def _collect(self, ref: Any, actor: _Actor) -> None:
        exceptions = self.ray.exceptions
        task, actor.task = actor.task, None
        try:
            value = self.ray.get(ref)
        except exceptions.RayTaskError as exc:  # raised inside the call: this scene's fault, not the actor's
            if task is None:  # the model failed to load in the actor
                self._lost(actor, None, exc)
                return
            self.queue.done(task, {"status": "failed", "error": str(exc).splitlines()[0], "error_type": "RayTaskError"})
        except exceptions.RayError as exc:  # the actor died: node lost, process killed, out of memory
            self._lost(actor, task, exc)
            return
        else:
            if task is not None:
                self.queue.done(task, value)
        actor.ready = True
        self.idle.append(actor)

    def _lost(self, actor: _Actor, task: Task | None, exc: Exception) -> None:
        reason = f"Ray actor died ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        logger.warning("%s", reason)
        try:
            self.ray.kill(actor.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        if task is not None:
            self.queue.lost(task, reason)
        if self.replacements > 0 and (self.queue.pending or self.inflight):
            self.replacements -= 1
            self._spawn()
