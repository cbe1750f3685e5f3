"""Batch processing of archives: many scenes, each with its expressions, on one machine or a cluster.

The unit of work is an item, a (scene, expressions) pair; its outputs go, all or
nothing, to ``OUTDIR/<scene-id>/``; every attempt is a record in an append-only ledger
that only the driver writes; ``resume`` skips items whose input, model and options
match a completed record. Executors: the driver itself or N local processes (one per
GPU), shards of a job array (``--shard``), or actors on a Ray cluster::

    from geocrobim.batch import collect_items, run_batch
    items = collect_items(["archive/"], ["the large pond"])
    summary = run_batch(items, "out", checkpoint="default", workers=2, resume=True)
    print(summary.to_dict())

Modules: :mod:`.sources`, :mod:`.manifest`, :mod:`.stac` (inputs), :mod:`.items`,
:mod:`.shard`, :mod:`.fingerprint`, :mod:`.ledger`, :mod:`.worker` (one item),
:mod:`.executors`, :mod:`.merge`, :mod:`.groups`, :mod:`.reproject` and :mod:`.vrt` (merged products,
per expression and group of scenes with one CRS and pixel size), :mod:`.driver` (plan, run, merge).
Importing this package imports neither torch nor Ray (workers import the engine).
See docs/batch.md.
"""

from __future__ import annotations

from geocrobim.batch.driver import BatchPlan, merge_batch, plan_batch, run_batch
from geocrobim.batch.items import BatchItem
from geocrobim.batch.ledger import Ledger, latest_ok, read_records
from geocrobim.batch.merge import MergedProduct, merge_outputs
from geocrobim.batch.shard import parse_shard, select_shard, shard_of
from geocrobim.batch.sources import collect_items
from geocrobim.batch.summary import BatchSummary
from geocrobim.batch.worker import JobSpec
from geocrobim.inference.options import SegmentOptions

__all__ = [
    "BatchItem",
    "BatchPlan",
    "BatchSummary",
    "JobSpec",
    "Ledger",
    "MergedProduct",
    "SegmentOptions",
    "collect_items",
    "latest_ok",
    "merge_batch",
    "merge_outputs",
    "parse_shard",
    "plan_batch",
    "read_records",
    "run_batch",
    "select_shard",
    "shard_of",
]
