"""The ledger: an append-only JSON Lines file, one record per item attempt.

Only the driver process writes it (workers return their outcome to the driver), one
``write`` of one whole line per record followed by ``flush`` and ``fsync``, so a crash
loses at most the record being written and never interleaves two. A line cut short by
a crash is skipped when reading, and the next append starts on a fresh line. An
exclusive ``flock`` on the file refuses a second driver on the same ledger.

A sharded run writes its own ledger (``ledger.shard-003-of-016.jsonl``) so the shards of
a job array can share one output folder; readers take every ``ledger*.jsonl`` in it.

Records (``type``):

- ``run``: a run started: run id, executor, workers, shard, model id and hash, options.
- ``item``: one attempt at one item: ``status`` ``ok`` | ``failed`` | ``lost`` (the
  worker died; the item was retried), scene id and path, expressions, attempt number,
  input hash/size/mtime, model id and hash, options hash, outputs (relative to the
  output folder), per-expression results (score, instances, area), duration, worker,
  error.
- ``end``: the run's summary.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from geocrobim.errors import OutputError

try:  # POSIX; on Windows a second driver is not detected
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]  # no fcntl on Windows: the name then says so

logger = logging.getLogger(__name__)

LEDGER_GLOB = "ledger*.jsonl"


def ledger_name(shard: tuple[int, int] | None = None) -> str:
    """``ledger.jsonl``, or ``ledger.shard-III-of-NNN.jsonl`` for shard ``(i, n)``."""
    if shard is None:
        return "ledger.jsonl"
    index, count = shard
    return f"ledger.shard-{index:03d}-of-{count:03d}.jsonl"


def now() -> str:
    """UTC timestamp, ISO 8601 with microseconds (sorts as text)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Ledger:
    """The single writer of one ledger file; use as a context manager.

    Raises:
        OutputError: the file cannot be opened, or another driver holds it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: IO[bytes] | None = None

    def __enter__(self) -> Ledger:
        try:
            self._file = open(self.path, "ab+")
        except OSError as exc:
            raise OutputError(f"cannot open ledger {self.path} ({exc.strerror or exc}); choose a writable -o") from exc
        if fcntl is not None:
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._file.close()
                self._file = None
                raise OutputError(
                    f"ledger {self.path} is in use by another geocrobim batch; wait for it to finish "
                    "or give this run another -o (or another --shard)"
                ) from None
        self._file.seek(0, os.SEEK_END)
        if self._file.tell():
            self._file.seek(-1, os.SEEK_END)
            if self._file.read(1) != b"\n":  # a record cut short by a crash: start afresh
                self._file.write(b"\n")
        return self

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (one line, flushed and fsync'ed)."""
        if self._file is None:
            raise RuntimeError("Ledger is not open")
        self._file.write((json.dumps(record, default=str) + "\n").encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock
            self._file = None


def read_records(output_dir: Path) -> list[dict[str, Any]]:
    """Every record of every ledger in ``output_dir``, each file in order, files by name."""
    records: list[dict[str, Any]] = []
    for path in sorted(Path(output_dir).glob(LEDGER_GLOB)):
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    logger.warning("%s:%d is not a whole record (a crash cut it short); skipped", path.name, number)
                    continue
                if isinstance(record, dict):
                    records.append(record)
    return records


def latest_ok(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The most recent completed record per scene id (by finish time, then file order)."""
    done = [r for r in records if r.get("type") == "item" and r.get("status") == "ok" and r.get("scene_id")]
    done.sort(key=lambda r: str(r.get("finished", "")))  # stable: file order breaks ties
    return {r["scene_id"]: r for r in done}
