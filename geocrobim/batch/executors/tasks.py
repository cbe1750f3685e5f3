"""The work queue every executor drains, and the retry rule for lost attempts.

An attempt is *lost* when its worker dies under it (a killed process, a lost Ray node,
an out-of-memory kill): the scene itself may be fine, so it goes back to the front of
the queue, up to ``retries`` more times. An attempt that *fails* (the engine raised for
this scene: a corrupt TIFF, a bad band) is final: running it again would fail again.
Every attempt, lost or not, is reported, so the ledger keeps one record per attempt.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from geocrobim.batch.items import BatchItem
from geocrobim.batch.ledger import now


@dataclass(frozen=True)
class Task:
    """One attempt at one item (``attempt`` counts from 1)."""

    item: BatchItem
    attempt: int = 1


#: ``report(task, outcome)``: the driver's single place that writes the ledger.
Report = Callable[[Task, dict[str, Any]], None]


class TaskQueue:
    """Pending tasks, the report callback, and the retry rule.

    Args:
        items: the items to run.
        report: called once per finished attempt, in the driver process.
        retries: how many times a lost item is tried again.
    """

    def __init__(self, items: Sequence[BatchItem], report: Report, retries: int = 2) -> None:
        self.pending: deque[Task] = deque(Task(item) for item in items)
        self.report = report
        self.retries = retries

    def next(self) -> Task | None:
        """The next task to hand to an idle worker, or None."""
        return self.pending.popleft() if self.pending else None

    def done(self, task: Task, outcome: dict[str, Any]) -> None:
        """A worker returned an outcome (ok or failed)."""
        self.report(task, outcome)

    def lost(self, task: Task, reason: str) -> None:
        """The worker died during ``task``: record it, and retry while attempts are left."""
        final = task.attempt > self.retries
        error = f"{reason} (attempt {task.attempt} of {self.retries + 1}{'; giving up' if final else '; retrying'})"
        self.report(task, lost_outcome(error, failed=final))
        if not final:
            self.pending.appendleft(Task(task.item, task.attempt + 1))

    def fail_rest(self, reason: str) -> None:
        """No worker is left: every pending task fails with ``reason``."""
        while self.pending:
            self.report(self.pending.popleft(), lost_outcome(reason, failed=True))


def lost_outcome(error: str, *, failed: bool) -> dict[str, Any]:
    """The outcome of an attempt that never came back."""
    stamp = now()
    return {
        "status": "failed" if failed else "lost",
        "error": error,
        "error_type": "WorkerLost",
        "started": None,
        "finished": stamp,
        "duration_s": None,
        "worker": None,
    }
