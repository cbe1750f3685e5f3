"""The driver: plan a batch, run it on an executor, keep the ledger, merge the products.

Data flow::

    items (sources) -> shard -> plan (resume: skip up-to-date items) -> executor
        -> outcome per attempt -> ledger (the driver alone writes it) -> progress
    after the run: staging removed -> merged VRT per expression and group of scenes (CRS,
        pixel size), GeoPackage per expression and CRS -> summary
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geocrobim.batch.executors import make_executor
from geocrobim.batch.executors.tasks import Task, TaskQueue
from geocrobim.batch.fingerprint import HASH_MODES, model_fingerprint, options_hash, same_input
from geocrobim.batch.items import BatchItem
from geocrobim.batch.ledger import Ledger, latest_ok, ledger_name, now, read_records
from geocrobim.batch.merge import MergedProduct, Progress, merge_outputs
from geocrobim.batch.shard import parse_shard, select_shard
from geocrobim.batch.summary import BatchSummary
from geocrobim.batch.worker import STAGING_DIR, JobSpec
from geocrobim.errors import UsageError, one_line
from geocrobim.inference.options import SegmentOptions
from geocrobim.models.device import check_device
from geocrobim.raster import ensure_output_dir

logger = logging.getLogger(__name__)


@dataclass
class BatchPlan:
    """What a run will do.

    Attributes:
        output_dir: the output folder (absolute).
        items: this run's share of the items (after ``--shard``).
        to_run: the items to process.
        skipped: the items already complete, with their ledger record (``--resume``).
        model_id: the checkpoint's model id.
        model_hash: hash of the checkpoint's files.
        options_hashes: per scene id, the hash of its expressions and the options.
    """

    output_dir: Path
    items: list[BatchItem]
    to_run: list[BatchItem]
    skipped: list[tuple[BatchItem, dict[str, Any]]]
    model_id: str
    model_hash: str
    options_hashes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``--dry-run`` listing."""
        skipped = {item.scene_id for item, _ in self.skipped}
        return {
            "output_dir": str(self.output_dir),
            "model_id": self.model_id,
            "items": [i.to_dict() | {"action": "skip" if i.scene_id in skipped else "run"} for i in self.items],
            "to_run": len(self.to_run),
            "skipped": len(self.skipped),
        }


def _shard(shard: tuple[int, int] | str | None) -> tuple[int, int] | None:
    return parse_shard(shard) if isinstance(shard, str) else shard


def plan_batch(
    items: Sequence[BatchItem],
    output_dir: str | Path,
    *,
    options: SegmentOptions | None = None,
    shard: tuple[int, int] | str | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> BatchPlan:
    """Decide which items run (nothing is written).

    An item is up to date when its latest completed record has the same model hash,
    the same options hash (expressions included), the same input content and all its
    outputs on disk. ``resume`` skips up-to-date items; without ``resume`` or
    ``overwrite``, items with earlier results are refused rather than replaced.

    Raises:
        UsageError: ``resume`` with ``overwrite``, or earlier results without either.
        InputNotFoundError, CheckpointError: the checkpoint is unusable.
    """
    if resume and overwrite:
        raise UsageError("--resume skips finished scenes and --overwrite redoes them; pass one of the two")
    out = Path(output_dir).resolve()
    selected = select_shard(items, _shard(shard))
    options = options or SegmentOptions()
    model_id, model_hash = model_fingerprint(options.checkpoint)
    identity = options.identity()
    hashes = {item.scene_id: options_hash(item.expressions, identity) for item in selected}
    latest = latest_ok(read_records(out)) if out.is_dir() else {}
    plan = BatchPlan(out, selected, [], [], model_id, model_hash, hashes)
    if not resume and not overwrite:
        earlier = [i.scene_id for i in selected if i.scene_id in latest or (out / i.scene_id).exists()]
        if earlier:
            more = f" and {len(earlier) - 1} more" if len(earlier) > 1 else ""
            raise UsageError(
                f"{out} already holds results for {earlier[0]}{more}; pass --resume to skip finished scenes "
                "or --overwrite to redo them"
            )
    for item in selected:
        record = latest.get(item.scene_id)
        if resume and record is not None and up_to_date(plan, item, record):
            plan.skipped.append((item, record))
        else:
            plan.to_run.append(item)
    return plan


def up_to_date(plan: BatchPlan, item: BatchItem, record: dict[str, Any] | None) -> bool:
    """Whether ``record`` is a completed, current result of ``item`` (None: there is none)."""
    return (
        record is not None
        and record.get("model_hash") == plan.model_hash
        and record.get("options_hash") == plan.options_hashes.get(item.scene_id)
        and bool(record.get("outputs"))
        and all((plan.output_dir / p).is_file() for p in record["outputs"])
        and same_input(item.scene, record)
    )


def run_batch(
    items: Sequence[BatchItem],
    output_dir: str | Path,
    *,
    options: SegmentOptions | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    shard: tuple[int, int] | str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    retries: int = 2,
    hash_mode: str = "quick",
    dst_crs: str | None = None,
    merge: bool = True,
    progress: Progress | None = None,
    merge_progress: Progress | None = None,
) -> BatchSummary:
    """Segment every item into ``output_dir/<scene-id>/``, with a ledger and merged products.

    Args:
        items: from :func:`geocrobim.batch.collect_items`.
        output_dir: the output folder (created if missing; shared by all nodes with Ray).
        options: the segment options of every item (checkpoint and device included).
        executor: ``local`` or ``ray``.
        workers: local worker processes (default: one per visible GPU, else 1) or Ray
            actors (default: one per GPU of the cluster, else per CPU).
        address: Ray cluster address (``--executor ray``).
        shard: ``(index, count)`` or an ``--shard`` string (``I/N``, ``N``, ``auto``).
        resume: skip items already complete and up to date.
        overwrite: redo items that have results.
        retries: extra attempts for an item whose worker died under it.
        hash_mode: ``quick`` or ``full`` input hashing (see :mod:`.fingerprint`).
        dst_crs: CRS of the merged products (default: each scene's own, one product per CRS).
        merge: build the merged products (never for a sharded run: see ``--merge-only``).
        progress: ``(done, total)`` callback over items, skipped ones counted as done.
        merge_progress: ``(done, total)`` callback over the scene files the merge reads.

    Returns:
        The run's :class:`BatchSummary`; ``exit_code`` is 1 if any item failed.

    Raises:
        UsageError: bad options; earlier results without ``resume``/``overwrite``.
        OutputError: the output folder or ledger cannot be written, or is in use.
        CheckpointError, InputNotFoundError: the model cannot be loaded.
        DependencyError: ``executor="ray"`` without Ray installed.
    """
    started = time.perf_counter()
    options = options or SegmentOptions()
    _check(retries, hash_mode, dst_crs)
    check_device(options.device)  # before the output folder, and before every worker fails on it
    shard = _shard(shard)
    out = ensure_output_dir(output_dir).resolve()
    plan = plan_batch(items, out, options=options, shard=shard, resume=resume, overwrite=overwrite)
    ledger_path = out / ledger_name(shard)
    job = JobSpec(out, options, out / STAGING_DIR / ledger_path.stem, hash_mode)
    runner = make_executor(executor, job, workers=workers, address=address)
    summary = BatchSummary(uuid.uuid4().hex[:12], out, ledger_path, executor, shard, len(plan.items),
                           skipped=len(plan.skipped))
    with Ledger(ledger_path) as ledger:
        _reset(job.staging)  # leftovers of a killed run of this ledger; the lock says none is running
        ledger.append(_run_record(summary, plan, job, workers))
        report = _Reporter(ledger, summary, plan, progress)
        try:
            runner.run(TaskQueue(plan.to_run, report, retries))
        finally:
            shutil.rmtree(job.staging, ignore_errors=True)
            _remove_if_empty(job.staging.parent)  # other shards may still stage in it
        if merge and shard is None:
            summary.merged, summary.merge_error = _merge(plan, dst_crs, merge_progress)
        summary.duration_s = time.perf_counter() - started
        ledger.append({"type": "end", "finished": now(), **summary.to_dict()})
    return summary


def merge_batch(
    items: Sequence[BatchItem],
    output_dir: str | Path,
    *,
    options: SegmentOptions | None = None,
    dst_crs: str | None = None,
    progress: Progress | None = None,
) -> list[MergedProduct]:
    """Build the merged products from the up-to-date results of ``items`` (``--merge-only``:
    after every shard of a job array has finished); ``progress`` as in :func:`merge_outputs`."""
    plan = plan_batch(items, output_dir, options=options, resume=True)
    if plan.to_run:
        logger.warning("%d of %d items have no up-to-date result; the merged products leave them out",
                       len(plan.to_run), len(plan.items))
    return merge_outputs(plan.output_dir, [record for _, record in plan.skipped], dst_crs, progress)


def _check(retries: int, hash_mode: str, dst_crs: str | None) -> None:
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UsageError(f"--retries {retries!r} must be a whole number >= 0")
    if hash_mode not in HASH_MODES:
        raise UsageError(f"--hash {hash_mode!r} is not one of {', '.join(HASH_MODES)}")
    if dst_crs is not None:
        try:
            CRS.from_user_input(dst_crs)
        except (CRSError, ValueError) as exc:
            raise UsageError(f"--dst-crs {dst_crs!r} is not a CRS ({exc}); give e.g. EPSG:3857") from None


def _reset(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, exist_ok=True)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _run_record(summary: BatchSummary, plan: BatchPlan, job: JobSpec, workers: int | None) -> dict[str, Any]:
    return {
        "type": "run", "run": summary.run_id, "started": now(), "argv": sys.argv, "executor": summary.executor,
        "workers": workers, "shard": summary.to_dict()["shard"], "checkpoint": job.checkpoint, "device": job.device,
        "model_id": plan.model_id, "model_hash": plan.model_hash, "options": job.options.identity(),
        "hash_mode": job.hash_mode, "items": len(plan.items), "to_run": len(plan.to_run), "skipped": len(plan.skipped),
    }


class _Reporter:
    """The report callback: one ledger record per attempt, counts, progress."""

    def __init__(self, ledger: Ledger, summary: BatchSummary, plan: BatchPlan, progress: Progress | None) -> None:
        self.ledger, self.summary, self.plan, self.progress = ledger, summary, plan, progress
        self.done = len(plan.skipped)
        if progress is not None:
            progress(self.done, len(plan.items))

    def __call__(self, task: Task, outcome: dict[str, Any]) -> None:
        item = task.item
        record = {
            "type": "item", "run": self.summary.run_id, "scene_id": item.scene_id, "scene": str(item.scene),
            "expressions": list(item.expressions), "attempt": task.attempt, "status": outcome.get("status", "failed"),
            "model_id": self.plan.model_id, "model_hash": self.plan.model_hash,
            "options_hash": self.plan.options_hashes[item.scene_id],
            "outputs": [], "results": [], "error": None, **outcome,
        }
        self.ledger.append(record)
        status = record["status"]
        if status == "lost":
            self.summary.lost += 1
            return
        if status == "ok":
            self.summary.ok += 1
        else:
            self.summary.failed += 1
            self.summary.failures.append((item.scene_id, str(record["error"])))
            logger.warning("%s failed: %s", item.scene_id, record["error"])
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, len(self.plan.items))


def _merge(plan: BatchPlan, dst_crs: str | None, progress: Progress | None) -> tuple[list[MergedProduct], str | None]:
    """Merged products over the current results; a merge error is reported, not raised."""
    latest = latest_ok(read_records(plan.output_dir))
    records = [latest[i.scene_id] for i in plan.items if up_to_date(plan, i, latest.get(i.scene_id))]
    try:
        return merge_outputs(plan.output_dir, records, dst_crs, progress), None
    except Exception as exc:  # noqa: BLE001 - the scenes are done; say what failed and exit 1
        logger.error("merging the products failed: %s", one_line(exc))
        return [], one_line(exc)
