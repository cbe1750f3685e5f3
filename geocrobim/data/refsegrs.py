"""RefSegRS (LGCE) in its on-disk layout.

::

    ROOT/images/<id>.tif                   RGB, 512 x 512
    ROOT/masks/<id>.tif                    one band, foreground = value > 0
    ROOT/output_phrase_<split>.txt         "<id> <expression>" per line
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from geocrobim.data.base import Record, ReferringDataset, Sample, check_files, check_folders, read_phrases

LAYOUT = "ROOT/images/<id>.tif, ROOT/masks/<id>.tif, ROOT/output_phrase_<split>.txt ('<id> <expression>' lines)"
SPLITS = ("train", "val", "test")


def refsegrs_records(root: str | Path, split: str) -> list[Record]:
    """Records of one RefSegRS split; ids are made unique per line (an id may repeat with paraphrases)."""
    root = check_folders(root, split, SPLITS, ("images", "masks"), LAYOUT)
    seen: Counter[str] = Counter()
    records = []
    for key, text in read_phrases(root / f"output_phrase_{split}.txt", LAYOUT):
        stem = Path(key).stem
        seen[stem] += 1
        rid = stem if seen[stem] == 1 else f"{stem}_{seen[stem] - 1}"
        records.append(Record(rid, root / "images" / f"{stem}.tif", text, mask=root / "masks" / f"{stem}.tif"))
    check_files(records, LAYOUT)
    return records


class RefSegRS(ReferringDataset):
    """RefSegRS: 4,420 triplets from SkyScapes aerial imagery, 14 categories.

    Args:
        root: the ``RefSegRS`` folder.
        split: "train", "val" or "test".
        image_size: resize to this square size (None keeps 512).
        transforms: optional callable on each sample dict.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        image_size: int | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        super().__init__(refsegrs_records(root, split), image_size, transforms)
        self.root, self.split = Path(root), split
