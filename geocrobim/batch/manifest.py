"""Manifests: a table of scenes and their expressions, as CSV, YAML or JSON Lines.

Every form has the same fields per entry:

- ``scene`` (or ``path``): the raster, relative to the manifest's folder or absolute;
- ``expression``: one sentence, or ``expressions``: a list (in CSV, sentences joined by ``|``);
- ``id`` (optional): the scene id, instead of the path's slug.

A scene listed on several rows (one row per expression) gets all their expressions.

CSV::

    scene,expression
    tiles/a.tif,the large pond
    tiles/a.tif,the stadium

YAML (a list, or a mapping with ``items`` and default ``expressions`` for all)::

    expressions: [the large pond]
    items:
      - scene: tiles/a.tif
      - {scene: tiles/b.tif, expressions: [the stadium, the bridge], id: b-2024}

JSON Lines::

    {"scene": "tiles/a.tif", "expressions": ["the large pond"]}
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from geocrobim.errors import UsageError

#: (absolute scene path, its own expressions, proposed scene id)
Candidate = tuple[Path, list[str], str]

MANIFEST_SUFFIXES = (".csv", ".yaml", ".yml", ".jsonl", ".ndjson")
_SCENE_KEYS = ("scene", "path")
#: Separator of several sentences in one CSV cell.
CSV_SEPARATOR = "|"


def read_manifest(path: Path) -> list[Candidate]:
    """Read a manifest (the format from the extension).

    Raises:
        UsageError: unreadable file, missing scene field, an entry of the wrong shape
            (all name the file and the entry).
    """
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read manifest {path} ({exc}); give a UTF-8 CSV, YAML or JSONL file") from exc
    if suffix == ".csv":
        entries = _csv_entries(text, path)
    elif suffix in (".yaml", ".yml"):
        entries = _yaml_entries(text, path)
    else:
        entries = _jsonl_entries(text, path)
    return [_candidate(entry, where, path.parent.resolve()) for where, entry in entries]


def _csv_entries(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines())
    fields = {f.strip().lower(): f for f in reader.fieldnames or []}
    if not any(k in fields for k in _SCENE_KEYS):
        raise UsageError(f"manifest {path} has no 'scene' column (columns: {', '.join(fields) or 'none'}); add one")
    entries = []
    for line, row in enumerate(reader, start=2):
        entry = {key: (row.get(original) or "").strip() for key, original in fields.items()}
        if "expressions" in entry:
            entry["expressions"] = [e for e in entry["expressions"].split(CSV_SEPARATOR) if e.strip()]
        entries.append((f"{path}:{line}", {k: v for k, v in entry.items() if v}))
    return entries


def _yaml_entries(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"manifest {path} is not valid YAML ({exc}); fix the syntax") from exc
    defaults: list[str] = []
    if isinstance(data, dict):
        defaults = _sentences(data.get("expressions", []), f"{path}: expressions")
        data = data.get("items")
    if not isinstance(data, list):
        raise UsageError(f"manifest {path} must be a list of scenes or a mapping with 'items'; see docs/batch.md")
    entries = []
    for index, entry in enumerate(data, start=1):
        if isinstance(entry, str):
            entry = {"scene": entry}
        if not isinstance(entry, dict):
            raise UsageError(f"{path}: item {index} is {type(entry).__name__}; give a mapping with 'scene'")
        own = _sentences(entry.get("expressions", entry.get("expression", [])), f"{path}: item {index}")
        entries.append((f"{path}: item {index}", {**entry, "expressions": own + defaults}))
    return entries


def _jsonl_entries(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    entries = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{line} is not JSON ({exc.msg}); write one object per line") from exc
        if not isinstance(entry, dict):
            raise UsageError(f"{path}:{line} is {type(entry).__name__}; write one object per line with 'scene'")
        entries.append((f"{path}:{line}", entry))
    return entries


def _sentences(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UsageError(f"{where}: expressions must be a sentence or a list of sentences, not {value!r}")


def _candidate(entry: dict[str, Any], where: str, root: Path) -> Candidate:
    scene = next((entry[k] for k in _SCENE_KEYS if entry.get(k)), None)
    if not isinstance(scene, str):
        raise UsageError(f"{where}: no 'scene' path; give the raster's path relative to the manifest")
    expressions = _sentences(entry.get("expressions", []), where) + (
        _sentences(entry["expression"], where) if entry.get("expression") else []
    )
    # A missing scene is not refused here: it fails as an item, recorded in the ledger,
    # and the rest of the batch runs.
    path = (root / Path(scene).expanduser()).resolve()
    proposed = entry.get("id") or entry.get("scene_id")
    if proposed is None:
        proposed = str(path.relative_to(root).with_suffix("")) if path.is_relative_to(root) else path.stem
    return (path, expressions, str(proposed))
