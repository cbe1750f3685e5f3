"""Synthetic chips generated on the fly, as a torch Dataset (no disk, any number of workers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch.utils.data import Dataset

from geocrobim.data.base import Sample, resize_pair, to_sample
from geocrobim.data.synthetic.chips import DEFAULT_GSDS, ChipGenerator
from geocrobim.errors import DatasetError


class SyntheticReferring(Dataset[Sample]):
    """Map-style dataset whose item ``i`` is synthetic chip ``i`` of (seed, split).

    Items are rendered when asked for, deterministically, so DataLoader workers need no
    shared state and a run is reproducible. Call :meth:`set_epoch` to move to fresh
    chips each epoch (item ``i`` of epoch ``e`` is chip ``e * length + i``).

    Args:
        length: items per epoch.
        seed: base seed (use different seeds, or splits, for training and evaluation).
        split: "train", "val" or "test" (independent streams).
        size: chip side in pixels as rendered.
        gsds: GSDs in metres chips are drawn at.
        per_scene: expressions per rendered scene (consecutive items share an image).
        image_size: resize to this square size (None keeps ``size``).
        transforms: optional callable on each sample dict.
        themes: restrict scene themes.

    Samples carry ``image`` (3, H, W) uint8, ``mask`` (H, W) long, ``expression``,
    ``id`` and ``gsd`` (metres, of the image as served: resizing changes it).
    """

    def __init__(
        self,
        length: int = 10000,
        *,
        seed: int = 0,
        split: str = "train",
        size: int = 512,
        gsds: Sequence[float] = DEFAULT_GSDS,
        per_scene: int = 1,
        image_size: int | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        themes: Sequence[str] | None = None,
    ) -> None:
        if length < 1:
            raise DatasetError(f"length={length}; a synthetic dataset needs at least one item")
        self.generator = ChipGenerator(size=size, gsds=gsds, seed=seed, split=split, per_scene=per_scene, themes=themes)
        self.length, self.image_size, self.transforms = length, image_size, transforms
        self.offset = 0

    def set_epoch(self, epoch: int) -> None:
        """Serve chips ``epoch * length ...`` from now on."""
        self.offset = epoch * self.length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.length:
            raise IndexError(index)
        chip = self.generator.sample(self.offset + index)
        image, mask = chip.image, chip.mask > 0
        gsd = chip.gsd
        if self.image_size is not None:
            image, mask = resize_pair(image, mask, self.image_size)
            gsd = chip.gsd * chip.mask.shape[0] / self.image_size
        g = self.generator
        sample = to_sample(image, mask, chip.expression, f"synth-{g.split}-{g.seed}-{self.offset + index}")
        sample["gsd"] = gsd
        return self.transforms(sample) if self.transforms is not None else sample
