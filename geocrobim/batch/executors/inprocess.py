"""One worker: the driver process itself loads the model once and runs the items in turn.

The default on a machine with at most one GPU; no process is started. Within a scene
the engine already overlaps reading, the model and writing.
"""

from __future__ import annotations

from geocrobim.batch.executors.tasks import TaskQueue
from geocrobim.batch.worker import JobSpec, load_predictor, process_item


class InProcessExecutor:
    """Run every task in the calling process.

    Args:
        job: the batch's job description.
    """

    workers = 1

    def __init__(self, job: JobSpec) -> None:
        self.job = job

    def run(self, queue: TaskQueue) -> None:
        if not queue.pending:
            return
        predictor = load_predictor(self.job)
        while (task := queue.next()) is not None:
            queue.done(task, process_item(task.item, self.job, predictor))
