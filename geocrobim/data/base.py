"""The common shape of every referring-segmentation dataset: records in, sample dicts out.

A dataset is a list of :class:`Record` (an image file, an expression, and where the
mask comes from). :class:`ReferringDataset` turns a record into the sample the
training code consumes::

    {"image": uint8 tensor (3, H, W), "mask": long tensor (H, W) in {0, 1},
     "expression": str, "id": str}

Resizing to a square ``image_size`` is optional (bilinear for the image, nearest for
the mask); a ``transforms`` callable, as in torchgeo, may then edit the sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from geocrobim.data.rle import decode_segmentation
from geocrobim.errors import DatasetError

Sample = dict[str, Any]


@dataclass(frozen=True)
class Record:
    """One image-expression-mask triplet on disk.

    Attributes:
        id: unique key (e.g. the file name, or ``<ref_id>_<sent_id>``).
        image: image file.
        expression: the referring expression.
        mask: a mask image (foreground = value > 0), or None when ``segmentation`` is given.
        segmentation: a COCO segmentation (polygons or RLE) with the image's (height, width).
    """

    id: str
    image: Path
    expression: str
    mask: Path | None = None
    segmentation: tuple[Any, int, int] | None = None


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 (GeoTIFFs through rasterio, the rest through Pillow)."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                bands = src.read(indexes=[1, 2, 3] if src.count >= 3 else [1, 1, 1])
        if bands.dtype != np.uint8:
            raise DatasetError(f"{path} has {bands.dtype} pixels; referring datasets are 8-bit RGB")
        return bands.transpose(1, 2, 0)
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def read_mask(path: Path) -> np.ndarray:
    """Read a mask image as (H, W) bool, foreground where the first band > 0."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                return src.read(1) > 0
    with Image.open(path) as img:
        arr = np.asarray(img)
    return (arr[..., 0] if arr.ndim == 3 else arr) > 0


def resize_pair(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize to (size, size): bilinear image (H, W, 3) uint8, nearest mask (H, W) bool."""
    if image.shape[:2] == (size, size) and mask.shape == (size, size):
        return image, mask
    img = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
    msk = np.asarray(Image.fromarray(mask.astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)) > 0
    return img, msk


def to_sample(image: np.ndarray, mask: np.ndarray, expression: str, sample_id: str) -> Sample:
    """Arrays to the sample dict: image (3, H, W) uint8 tensor, mask (H, W) long tensor."""
    return {
        "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
        "mask": torch.from_numpy(mask.astype(np.int64)),
        "expression": expression,
        "id": sample_id,
    }


def require(path: Path, what: str, layout: str) -> Path:
    """``path`` if it exists, else a DatasetError naming it and the expected layout."""
    if not path.exists():
        raise DatasetError(f"missing {what}: {path}; expected layout: {layout}")
    return path


def check_folders(root: str | Path, split: str, splits: Iterable[str], folders: Iterable[str], layout: str) -> Path:
    """Validate a split name and a dataset's sub-folders; return the root as a Path."""
    if split not in splits:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(splits)}")
    root = require(Path(root), "dataset folder", layout)
    for sub in folders:
        require(root / sub, f"{sub}/ folder", layout)
    return root


class ReferringDataset(Dataset[Sample]):
    """A map-style dataset over records.

    Args:
        records: the triplets.
        image_size: resize every sample to this square size; None keeps the native size.
        transforms: optional callable applied to each sample dict last.
    """

    def __init__(
        self,
        records: Iterable[Record],
        image_size: int | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        self.records = list(records)
        if image_size is not None and image_size < 1:
            raise DatasetError(f"image_size={image_size}; use a positive size or None")
        self.image_size = image_size
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        rec = self.records[index]
        image = read_rgb(rec.image)
        if rec.mask is not None:
            mask = read_mask(rec.mask)
        elif rec.segmentation is not None:
            seg, h, w = rec.segmentation
            mask = decode_segmentation(seg, h, w)
        else:  # pragma: no cover - records are built with one or the other
            raise DatasetError(f"record {rec.id} has no mask")
        if mask.shape != image.shape[:2]:
            raise DatasetError(f"{rec.id}: mask {mask.shape} does not match image {image.shape[:2]}")
        if self.image_size is not None:
            image, mask = resize_pair(image, mask, self.image_size)
        sample = to_sample(image, mask, rec.expression, rec.id)
        return self.transforms(sample) if self.transforms is not None else sample


def read_phrases(path: Path, layout: str) -> list[tuple[str, str]]:
    """Parse an ``output_phrase_<split>.txt``: one "<key> <expression>" per line.

    Returns:
        (key, expression) pairs in file order.
    """
    require(path, "phrase file", layout)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, _, text = line.partition(" ")
        if not text.strip():
            raise DatasetError(f"{path}:{n}: {line[:60]!r} has no expression; expected '<file> <expression>' per line")
        out.append((key, text.strip()))
    return out


def missing_files(paths: Iterable[Path]) -> list[Path]:
    """Paths that do not exist, checked with one directory listing per folder."""
    listing: dict[Path, set[str]] = {}
    missing = []
    for p in paths:
        names = listing.get(p.parent)
        if names is None:
            names = set(x.name for x in p.parent.iterdir()) if p.parent.is_dir() else set()
            listing[p.parent] = names
        if p.name not in names:
            missing.append(p)
    return missing


def check_files(records: list[Record], layout: str) -> None:
    """Raise a DatasetError naming the first missing image or mask of ``records``."""
    paths = [r.image for r in records] + [r.mask for r in records if r.mask is not None]
    gone = missing_files(paths)
    if gone:
        raise DatasetError(f"missing {len(gone)} file(s), first {gone[0]}; expected layout: {layout}")
