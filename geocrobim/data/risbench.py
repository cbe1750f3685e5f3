"""RISBench (CroBIM's benchmark) in its original on-disk layout, and synthetic chips in the same layout.

::

    ROOT/img_rgb/<split>_<img>_<obj>.png      RGB, 512 x 512 (one file per referent)
    ROOT/mask/<same name>.png                 0 / 255
    ROOT/output_phrase_<split>.txt            "<file name> <expression>" per line
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from geocrobim.data.base import Record, ReferringDataset, Sample, check_files, check_folders, read_phrases

LAYOUT = "ROOT/img_rgb/<name>.png, ROOT/mask/<name>.png, ROOT/output_phrase_<split>.txt ('<name> <expression>' lines)"

#: files DiCoR skips as mislabelled (its RISBench loader's list)
KNOWN_BAD = frozenset({
    "train_819_1", "train_6194_0", "train_6194_1", "train_7008_0", "train_7222_1", "train_7581_3", "train_8518_1",
    "train_9405_1", "train_9598_7", "train_10222_0", "train_10698_0", "train_11021_1", "train_11785_0",
    "train_11818_2", "train_11904_8", "train_12443_2",
})  # fmt: skip
SPLITS = ("train", "val", "test")


def risbench_records(root: str | Path, split: str, exclude: Iterable[str] = ()) -> list[Record]:
    """Records of one split of a RISBench-layout folder, minus ``exclude`` (file stems)."""
    root = check_folders(root, split, SPLITS, ("img_rgb", "mask"), LAYOUT)
    skip = set(exclude)
    records = []
    for key, text in read_phrases(root / f"output_phrase_{split}.txt", LAYOUT):
        name = key if key.lower().endswith(".png") else key + ".png"
        if Path(name).stem in skip:
            continue
        records.append(Record(Path(name).stem, root / "img_rgb" / name, text, mask=root / "mask" / name))
    check_files(records, LAYOUT)
    return records


class RISBench(ReferringDataset):
    """RISBench: 52,472 triplets, 512 x 512, 26 classes (skips the 16 known-bad files).

    Args:
        root: the ``RISBench_dataset`` folder.
        split: "train", "val" or "test".
        image_size: resize to this square size (None keeps 512).
        transforms: optional callable on each sample dict.
        exclude: file stems to skip; defaults to :attr:`EXCLUDE` (:data:`KNOWN_BAD`).
    """

    EXCLUDE: frozenset[str] = KNOWN_BAD

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        image_size: int | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        exclude: Iterable[str] | None = None,
    ) -> None:
        records = risbench_records(root, split, self.EXCLUDE if exclude is None else exclude)
        super().__init__(records, image_size, transforms)
        self.root, self.split = Path(root), split


class SyntheticChips(RISBench):
    """Chips written by ``geocrobim synth chips``: RISBench's layout, nothing excluded."""

    EXCLUDE = frozenset()
