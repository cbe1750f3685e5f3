"""The unit of work of a batch: one scene and the expressions to find in it.

A scene id names the item's output folder (``OUTDIR/<scene-id>/``) and its ledger
records, so it must be stable from run to run and unique within a batch: a slug of the
scene's path relative to the input root (a folder, a glob's base, a manifest's folder),
or of the STAC item id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from geocrobim.errors import UsageError

#: Longest scene id; longer ones are cut and keep apart by a hash suffix.
SCENE_ID_MAX = 96
#: Folder of OUTDIR holding the merged products; no scene id may take its name.
MERGED_DIR = "merged"


@dataclass(frozen=True)
class BatchItem:
    """One (scene, expressions) unit of work.

    Attributes:
        scene: absolute path of the raster.
        expressions: the sentences to segment in it, in order, without duplicates.
        scene_id: the output folder name and ledger key (see :func:`scene_slug`).
    """

    scene: Path
    expressions: tuple[str, ...]
    scene_id: str

    def to_dict(self) -> dict[str, object]:
        return {"scene_id": self.scene_id, "scene": str(self.scene), "expressions": list(self.expressions)}


def scene_slug(text: str) -> str:
    """A file-name-safe slug of a relative path or STAC id, case kept.

    Path separators become ``-``; the raster extension is the caller's to drop.

    >>> scene_slug("2024/06/S2A tile #3")
    '2024-06-S2A-tile-3'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", ascii_text).strip("-.")
    return slug or "scene"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def assign_ids(candidates: Iterable[tuple[Path, Sequence[str], str]]) -> list[BatchItem]:
    """Build items with unique scene ids, merging repeated scenes.

    Args:
        candidates: ``(absolute scene path, expressions, proposed id)``; the proposed id is
            slugged. The same scene listed twice (e.g. one manifest row per expression)
            becomes one item with the expressions of both, in order.

    Returns:
        Items sorted by scene id. Ids that collide (case-insensitively, for
        case-insensitive file systems), are too long or are ``merged`` get a hash of the
        scene path appended.

    Raises:
        UsageError: an item has no expression.
    """
    merged: dict[Path, tuple[list[str], str]] = {}
    for scene, expressions, proposed in candidates:
        texts, _ = merged.setdefault(scene, ([], proposed))
        for expression in expressions:
            sentence = " ".join(expression.split())
            if sentence and sentence not in texts:
                texts.append(sentence)
    slugs = {scene: scene_slug(proposed) for scene, (_, proposed) in merged.items()}
    counts: dict[str, int] = {}
    for slug in slugs.values():
        counts[slug.lower()] = counts.get(slug.lower(), 0) + 1
    items = []
    for scene, (texts, _) in merged.items():
        if not texts:
            raise UsageError(f"scene {scene} has no expression; pass -e EXPR or give expressions in the manifest")
        slug = slugs[scene]
        if counts[slug.lower()] > 1 or len(slug) > SCENE_ID_MAX or slug.lower() == MERGED_DIR:
            slug = f"{slug[: SCENE_ID_MAX - 9]}-{_short_hash(str(scene))}"
        items.append(BatchItem(scene=scene, expressions=tuple(texts), scene_id=slug))
    return sorted(items, key=lambda item: item.scene_id)
