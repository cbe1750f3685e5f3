"""What a batch run returns and prints: counts, failures, where things are."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geocrobim.batch.merge import MergedProduct


@dataclass
class BatchSummary:
    """The outcome of :func:`geocrobim.batch.run_batch`.

    Attributes:
        run_id: this run's id (in every ledger record it wrote).
        output_dir: the output folder.
        ledger: the ledger file this run appended to.
        executor: ``local`` or ``ray``.
        shard: ``(index, count)`` or None.
        items: items in this run's share (after ``--shard``).
        ok: items completed by this run.
        failed: items that failed (scene errors, or lost more often than ``retries``).
        skipped: items skipped by ``--resume`` (already complete and up to date).
        lost: attempts lost with their worker (and retried).
        duration_s: wall-clock seconds.
        failures: ``(scene_id, error)`` per failed item.
        merged: the merged products, one per expression and group of scenes (CRS, pixel
            size); empty for a sharded run or ``merge=False``.
        merge_error: why building the merged products failed, if it did.
    """

    run_id: str
    output_dir: Path
    ledger: Path
    executor: str
    shard: tuple[int, int] | None
    items: int
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    lost: int = 0
    duration_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    merged: list[MergedProduct] = field(default_factory=list)
    merge_error: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when every item is complete (and merged), 1 when any failed."""
        return 1 if self.failed or self.merge_error else 0

    @property
    def items_per_s(self) -> float:
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "run_id": self.run_id,
            "output_dir": str(self.output_dir),
            "ledger": str(self.ledger),
            "executor": self.executor,
            "shard": None if self.shard is None else f"{self.shard[0]}/{self.shard[1]}",
            "items": self.items,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "lost_attempts": self.lost,
            "duration_s": round(self.duration_s, 3),
            "items_per_s": round(self.items_per_s, 4),
            "failures": [{"scene_id": s, "error": e} for s, e in self.failures],
            "merged": [m.to_dict() for m in self.merged],
            "merge_error": self.merge_error,
        }

    def lines(self) -> list[str]:
        """The human summary, one line each (the CLI prints them on stderr)."""
        head = (
            f"batch: {self.items} item(s): {self.ok} ok, {self.failed} failed, {self.skipped} skipped (already done)"
            f"{f', {self.lost} lost attempt(s) retried' if self.lost else ''} in {self.duration_s:.1f} s"
            f" ({self.items_per_s:.3g} items/s)"
        )
        out = [head, f"  ledger: {self.ledger}"]
        out += [f"  failed: {scene}: {error}" for scene, error in self.failures]
        if self.merge_error:
            out.append(f"  merging failed: {self.merge_error}")
        out += [f"  {m.line()}" for m in self.merged]
        if self.shard is not None:
            out.append("  sharded run: merge the shards' products with --merge-only once every shard has finished")
        return out
