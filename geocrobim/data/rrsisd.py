"""RRSIS-D (RMSIN) in its REFER layout: a refs pickle, COCO-style instances, JPEG images.

Accepted layouts (the first that matches)::

    ROOT/rrsisd/refs(unc).p, ROOT/rrsisd/instances.json, ROOT/images/rrsisd/JPEGImages/<file>.jpg   (RMSIN refer/data)
    ROOT/refs(unc).p, ROOT/instances.json, ROOT/JPEGImages/ or ROOT/images/rrsisd/JPEGImages/ or ROOT/images/

The pickle is loaded with :func:`geocrobim.data.safe_pickle.load_pickle` (builtin data
only). Masks come from ``instances.json`` annotations: polygons or compressed RLE (a list
of RLE dicts in RRSIS-D), parts united with ``> 0``. ``area`` is ignored (it is wrong).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from geocrobim.data.base import Record, ReferringDataset, Sample, check_files
from geocrobim.data.safe_pickle import load_pickle
from geocrobim.errors import DatasetError

LAYOUT = (
    "ROOT/rrsisd/refs(unc).p + ROOT/rrsisd/instances.json + ROOT/images/rrsisd/JPEGImages/*.jpg "
    "(or refs(unc).p, instances.json and JPEGImages/ directly in ROOT)"
)

#: images DiCoR skips as mislabelled (its RRSIS-D loader's list)
KNOWN_BAD = frozenset(
    ["00413", "01072", "01664", "03661", "05125", "06728", "06861", "07239", "09319", "10579", "10653", "11147", "11898", "12492", "12630", "14464", "14915", "15357", "15584", "15737", "17068", "18552", "18845", "20203", "20235", "21126", "22187"]
)
SPLITS = ("train", "val", "test")


def find_layout(root: Path, split_by: str = "unc") -> tuple[Path, Path, Path]:
    """(refs pickle, instances.json, image folder) under ``root``, or a DatasetError."""
    refs_name = f"refs({split_by}).p"
    for ann_dir in (root / "rrsisd", root):
        refs, inst = ann_dir / refs_name, ann_dir / "instances.json"
        if refs.is_file() and inst.is_file():
            for images in (root / "images" / "rrsisd" / "JPEGImages", root / "JPEGImages", root / "images"):
                if images.is_dir():
                    return refs, inst, images
            raise DatasetError(f"missing image folder JPEGImages/ under {root}; expected layout: {LAYOUT}")
    missing = root / "rrsisd" / refs_name if (root / "rrsisd").is_dir() else root / refs_name
    if missing.is_file():
        missing = missing.with_name("instances.json")
    raise DatasetError(f"missing {missing}; expected layout: {LAYOUT}")


def _index(instances: dict[str, Any], path: Path) -> tuple[dict[int, dict], dict[int, dict]]:
    try:
        images = {int(im["id"]): im for im in instances["images"]}
        anns = {int(a["id"]): a for a in instances["annotations"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path} lacks COCO 'images'/'annotations' with ids ({exc}); expected layout: {LAYOUT}") from exc
    return images, anns


def rrsisd_records(root: str | Path, split: str, *, split_by: str = "unc", exclude: Iterable[str] = KNOWN_BAD) -> list[Record]:
    """One record per (ref, sentence) of ``split``, minus images whose stem is in ``exclude``."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    refs_path, inst_path, image_dir = find_layout(Path(root), split_by)
    refs = load_pickle(refs_path)
    if not isinstance(refs, list):
        raise DatasetError(f"{refs_path} holds a {type(refs).__name__}, not a list of refs; expected layout: {LAYOUT}")
    try:
        instances = json.loads(inst_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{inst_path} is not readable JSON ({exc})") from exc
    images, anns = _index(instances, inst_path)
    skip = set(exclude)
    records = []
    for ref in refs:
        if not isinstance(ref, dict) or ref.get("split") != split:
            continue
        try:
            image = images[int(ref["image_id"])]
            ann = anns[int(ref["ann_id"])]
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"ref {ref.get('ref_id')} points to a missing image or annotation ({exc}) in {inst_path}") from exc
        file_name = str(image.get("file_name") or ref["file_name"])
        if Path(file_name).stem in skip:
            continue
        seg = (ann["segmentation"], int(image["height"]), int(image["width"]))
        for sent in ref.get("sentences", []):
            text = str(sent.get("raw") or sent.get("sent") or "").strip()
            if text:
                rid = f"{ref.get('ref_id', ref['ann_id'])}_{sent.get('sent_id', 0)}"
                records.append(Record(rid, image_dir / file_name, text, segmentation=seg))
    check_files(records, LAYOUT)
    return records


class RRSISD(ReferringDataset):
    """RRSIS-D: 17,402 triplets, 800 x 800, 20 categories (skips the 27 known-bad images).

    Args:
        root: folder holding the layout (see the module docstring).
        split: "train", "val" or "test".
        image_size: resize to this square size (None keeps 800).
        transforms: optional callable on each sample dict.
        split_by: the refs file variant, ``refs(<split_by>).p``.
        exclude: image stems to skip; defaults to :data:`KNOWN_BAD`.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        image_size: int | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        split_by: str = "unc",
        exclude: Iterable[str] = KNOWN_BAD,
    ) -> None:
        super().__init__(rrsisd_records(root, split, split_by=split_by, exclude=exclude), image_size, transforms)
        self.root, self.split = Path(root), split
