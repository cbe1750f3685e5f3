"""What a worker does with one item, whichever executor runs it.

:func:`process_item` segments the scene into a private staging folder, then renames
that folder to ``OUTDIR/<scene-id>`` in one step: a killed worker leaves only a staging
folder (removed by the next run of the same ledger), never a partial scene folder. The
outcome it returns is JSON-able; the driver turns it into a ledger record. The engine
(and torch) is imported only here, on first use, so the driver and the package stay light.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geocrobim.batch.fingerprint import file_fingerprint
from geocrobim.batch.items import BatchItem
from geocrobim.batch.ledger import now
from geocrobim.errors import InputNotFoundError, one_line
from geocrobim.inference.options import SegmentOptions

logger = logging.getLogger(__name__)

#: Folder inside OUTDIR holding the staging folders of running items.
STAGING_DIR = ".staging"


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs besides the item: where, and the segment options.

    Attributes:
        output_dir: the batch's output folder (absolute; shared by all workers).
        options: the segment options, passed as they are to ``segment_raster`` (the model
            comes from their ``checkpoint`` and ``device``; in a worker process pinned to
            one GPU with ``CUDA_VISIBLE_DEVICES``, ``cuda`` is that GPU).
        staging: this ledger's staging folder (``OUTDIR/.staging/<ledger stem>``).
        hash_mode: ``quick`` or ``full`` input hashing.
    """

    output_dir: Path
    options: SegmentOptions
    staging: Path
    hash_mode: str = "quick"

    @property
    def checkpoint(self) -> str:
        """The options' checkpoint directory or name."""
        return self.options.checkpoint

    @property
    def device(self) -> str:
        """The options' device."""
        return self.options.device


def load_predictor(job: JobSpec) -> Any:
    """Load the job's model once per worker."""
    from geocrobim.models import Predictor

    return Predictor.from_checkpoint(job.checkpoint, device=job.device)


def process_item(item: BatchItem, job: JobSpec, predictor: Any) -> dict[str, Any]:
    """Segment one item into ``OUTDIR/<scene-id>/``; never raises for a bad scene.

    Returns:
        The outcome: ``status`` (``ok`` or ``failed``), ``started``/``finished``,
        ``duration_s``, ``worker``, the input fingerprint, and either ``outputs`` (paths
        relative to OUTDIR) and ``results`` (per expression) or ``error``/``error_type``.
    """
    from geocrobim.inference import segment_raster

    t0 = time.perf_counter()
    outcome: dict[str, Any] = {"started": now(), "worker": f"{socket.gethostname()}:{os.getpid()}"}
    work = job.staging / f"{item.scene_id}.{uuid.uuid4().hex[:12]}"
    try:
        try:
            outcome.update(file_fingerprint(item.scene, job.hash_mode))
        except FileNotFoundError:
            raise InputNotFoundError(
                f"scene {item.scene} not found; fix the path or remove it from the inputs"
            ) from None
        result = segment_raster(
            item.scene, list(item.expressions), job.options, output_dir=work, predictor=predictor
        )
        final = job.output_dir / item.scene_id
        install(work, final, job.staging)
        outcome.update(status="ok", **_describe(result, final, job.output_dir))
    except Exception as exc:
        logger.debug("item %s failed", item.scene_id, exc_info=True)
        outcome.update(status="failed", error=one_line(exc), error_type=type(exc).__name__)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    outcome.update(finished=now(), duration_s=round(time.perf_counter() - t0, 4))
    return outcome


def install(work: Path, final: Path, staging: Path) -> None:
    """Move a finished staging folder to its final name, replacing an older one.

    ``rename`` of a folder is atomic; replacing an existing folder takes two renames
    (old aside, new in), so for an instant neither is at ``final``, but a reader never
    sees a mix of old and new files.
    """
    try:
        os.rename(work, final)
        return
    except OSError:
        if not final.exists():
            raise
    old = staging / f"{final.name}.old.{uuid.uuid4().hex[:12]}"
    os.rename(final, old)
    os.rename(work, final)
    shutil.rmtree(old, ignore_errors=True)


def _describe(result: Any, final: Path, root: Path) -> dict[str, Any]:
    """Ledger fields of a successful run, paths moved from staging to their final folder."""

    def moved(path: Any) -> str | None:
        return None if path is None else (final / Path(path).name).relative_to(root).as_posix()

    results = [
        {
            "expression": e.expression,
            "score": None if e.score is None else round(e.score, 6),
            "found": e.found,
            "instances": e.instances,
            "area_m2": None if e.area_m2 is None else round(e.area_m2, 3),
            "area_unit": e.area_unit,
            "mask": moved(e.outputs.mask),
            "vector": moved(e.outputs.vector),
            "probabilities": moved(e.outputs.probabilities),
            "quicklook": moved(e.outputs.quicklook),
            "note": e.note,
        }
        for e in result.expressions
    ]
    outputs = sorted(p.relative_to(root).as_posix() for p in final.rglob("*") if p.is_file())
    return {
        "outputs": outputs,
        "results": results,
        "crs": result.crs,
        "width": result.width,
        "height": result.height,
        "engine_model_id": result.model.get("id"),
        "warnings": result.warnings,
    }
