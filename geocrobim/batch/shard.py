"""``--shard``: a deterministic split of the items for job arrays, with no coordinator.

An item belongs to shard ``i`` of ``n`` when the SHA-256 of its scene id, as an integer,
is ``i`` modulo ``n``. The split depends on nothing but the id, so each array task
computes its own share, shares are disjoint and together whole, and adding scenes to
an archive never moves an existing scene to another shard (its finished outputs and
ledger records stay valid for ``--resume``). Shares are balanced in expectation, not
exactly.

Forms of ``--shard``:

- ``I/N``: shard I (0-based) of N;
- ``N``: N shards, the index from the job array: ``SLURM_ARRAY_TASK_ID`` (made 0-based
  with ``SLURM_ARRAY_TASK_MIN`` and ``SLURM_ARRAY_TASK_STEP``), ``AWS_BATCH_JOB_ARRAY_INDEX``
  or ``JOB_COMPLETION_INDEX`` (Kubernetes Indexed Job);
- ``auto``: index and count from SLURM (``SLURM_ARRAY_TASK_COUNT``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

from geocrobim.batch.items import BatchItem
from geocrobim.errors import UsageError

#: Environment variables holding a 0-based array index (SLURM's is handled apart).
INDEX_VARIABLES = ("AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX")


def parse_shard(text: str | None, env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """``"I/N"``, ``"N"`` or ``"auto"`` -> ``(index, count)``; None -> None (no sharding).

    Raises:
        UsageError: malformed, out of range, or the array variables are missing.
    """
    if text is None:
        return None
    env = os.environ if env is None else env
    spec = text.strip().lower()
    if spec == "auto" and "SLURM_ARRAY_TASK_COUNT" not in env:
        raise UsageError(
            "--shard auto reads SLURM_ARRAY_TASK_ID/COUNT, which are not set; outside SLURM pass "
            "--shard N (the array size) or --shard I/N"
        )
    try:
        if spec == "auto":
            index, count = _slurm_index(env), int(env["SLURM_ARRAY_TASK_COUNT"])
        elif "/" in spec:
            left, right = spec.split("/", 1)
            index, count = int(left), int(right)
        else:
            index, count = _array_index(env, text), int(spec)
    except UsageError:
        raise
    except ValueError:
        raise UsageError(
            f"--shard {text!r} must be I/N (e.g. 0/4), N with a job-array index variable, or auto"
        ) from None
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {text!r} gives shard {index} of {count}; the index must be 0 <= I < N")
    return (index, count)


def _slurm_index(env: Mapping[str, str]) -> int:
    task = int(env["SLURM_ARRAY_TASK_ID"])
    first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
    step = int(env.get("SLURM_ARRAY_TASK_STEP", "1") or 1)
    return (task - first) // step


def _array_index(env: Mapping[str, str], text: str) -> int:
    if "SLURM_ARRAY_TASK_ID" in env:
        return _slurm_index(env)
    for name in INDEX_VARIABLES:
        if name in env:
            return int(env[name])
    raise UsageError(
        f"--shard {text} needs the array index, but none of SLURM_ARRAY_TASK_ID, {', '.join(INDEX_VARIABLES)} "
        "is set; pass --shard I/N"
    )


def shard_of(scene_id: str, count: int) -> int:
    """The shard (0-based) of ``count`` that a scene id belongs to."""
    return int.from_bytes(hashlib.sha256(scene_id.encode("utf-8")).digest()[:8], "big") % count


def select_shard(items: Sequence[BatchItem], shard: tuple[int, int] | None) -> list[BatchItem]:
    """The items of one shard, in their order (all of them when ``shard`` is None)."""
    if shard is None:
        return list(items)
    index, count = shard
    return [item for item in items if shard_of(item.scene_id, count) == index]
