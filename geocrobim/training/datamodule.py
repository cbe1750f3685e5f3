"""Datamodules for referring segmentation, on torchgeo's ``NonGeoDataModule``.

One class per dataset layout; their typed ``__init__`` is the ``data:`` section of the
training YAML. Every sample is resized to ``image_size`` (bilinear image, nearest mask),
tokenised in the collate function with the task's tokenizer, and ImageNet-normalised.
Flips are off by default and, when on, rewrite the expression (see
:mod:`geocrobim.training.augment`); RMSIN's random black boxes are an option.

- :class:`FolderDataModule` (``layout=``) and its named forms:
- :class:`RISBenchDataModule`: ``img_rgb/``, ``mask/``, ``output_phrase_{split}.txt``
  (also the layout ``geocrobim synth chips`` writes).
- :class:`RRSISDDataModule`: ``refs(unc).p`` + ``instances.json`` + JPEG images.
- :class:`RefSegRSDataModule`: ``images/``, ``masks/``, ``output_phrase_{split}.txt``.
- :class:`SyntheticDataModule`: chips generated on the fly, deterministic per seed, at
  several GSDs; validation and test chips come from seeds training never uses. Needs
  numpy, Pillow and shapely only (no rasterio), so it also runs where torchgeo is absent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

from geocrobim.data.synthetic.chips import DEFAULT_GSDS
from geocrobim.data.synthetic.referents import style_weights
from geocrobim.errors import UsageError
from geocrobim.models import TextTokenizer
from geocrobim.training._base import NonGeoDataModule
from geocrobim.training.samples import ReferringCollate, ReferringSamples, ReferringStream, SamplePreparer, prepared
from geocrobim.training.scenes import SceneCollate, SyntheticSceneStream
from geocrobim.training.synthetic import SyntheticStream

logger = logging.getLogger(__name__)


class ReferringDataModule(NonGeoDataModule):
    """Shared machinery; use one of the dataset subclasses.

    Args:
        dataset_class: called as ``dataset_class(split=..., **kwargs)`` (a class or factory).
        batch_size: samples per batch per process (training).
        num_workers: DataLoader worker processes.
        image_size: side S the samples are resized to; metrics are computed at S
            (480 to compare with published numbers).
        eval_batch_size: batch size of validation and test (None: ``batch_size``).
        hflip: probability of a horizontal flip with left/right, east/west rewritten.
        vflip: probability of a vertical flip with north/south, top/bottom rewritten.
        random_boxes: fraction of training samples painted with RMSIN's black boxes
            (RMSIN: 0.2).
        seed: seed of the fixed random-boxes subset.
        gsd_m: ground sample distance (m) recorded in the exported checkpoint's metadata.
        trained_on: description recorded in the exported checkpoint's metadata.
        **kwargs: passed to ``dataset_class``.
    """

    def __init__(
        self,
        dataset_class: Callable[..., Dataset[dict[str, Any]]],
        batch_size: int = 8,
        num_workers: int = 0,
        image_size: int = 480,
        eval_batch_size: int | None = None,
        hflip: float = 0.0,
        vflip: float = 0.0,
        random_boxes: float = 0.0,
        seed: int = 0,
        gsd_m: float | None = None,
        trained_on: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        for name, p in (("hflip", hflip), ("vflip", vflip), ("random_boxes", random_boxes)):
            if not 0.0 <= p <= 1.0:
                raise UsageError(f"{name}={p} must be a probability in [0, 1]")
        self.image_size = int(image_size)
        self.val_batch_size = self.test_batch_size = eval_batch_size
        self.augment: dict[str, Any] = {"hflip": hflip, "vflip": vflip, "random_boxes": random_boxes, "seed": seed}
        self.gsd_m = gsd_m
        self.trained_on = trained_on
        self.tokenizer: TextTokenizer | None = None
        self.max_tokens: int | None = None

    def setup(self, stage: str) -> None:
        """Build the split datasets, wrap them (resize, augment) and set the collate function."""
        super().setup(stage)
        aug = self.augment
        for split in ("train", "val", "test"):
            raw = getattr(self, f"{split}_dataset", None)
            if raw is None or isinstance(raw, (ReferringSamples, ReferringStream)):
                continue
            if isinstance(raw, SyntheticStream):
                raw.batch_size = self.batch_size
                if self.trainer is not None:  # iterable data gets no DistributedSampler: shard here
                    raw.rank, raw.world_size = self.trainer.global_rank, self.trainer.world_size
            prepare = SamplePreparer(self.image_size, **(aug if split == "train" else {"seed": aug["seed"]}))
            setattr(self, f"{split}_dataset", prepared(raw, prepare))
        self.collate_fn: Callable[[list[Any]], Any] = ReferringCollate(*self._tokenizer())

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Any]]:
        dataset = self._valid_attribute(f"{split}_dataset", "dataset")
        return DataLoader(
            dataset,
            batch_size=self._valid_attribute(f"{split}_batch_size", "batch_size"),
            shuffle=split == "train" and not isinstance(dataset, IterableDataset),
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            drop_last=split == "train",
            # Persistent workers keep SyntheticStream's per-copy epoch counter (fresh scenes every epoch).
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def _tokenizer(self) -> tuple[TextTokenizer, int]:
        """The tokenizer: set on this object, or the task's (the usual case under a Trainer)."""
        tokenizer, max_tokens = self.tokenizer, self.max_tokens
        task = getattr(self.trainer, "lightning_module", None) if self.trainer is not None else None
        if tokenizer is None:
            tokenizer = getattr(task, "tokenizer", None)
        if max_tokens is None:
            max_tokens = getattr(task, "max_tokens", None)
        if tokenizer is None or max_tokens is None:
            raise UsageError(
                f"{type(self).__name__} has no tokenizer: attach it to a Trainer with the task, "
                "or set .tokenizer and .max_tokens before setup()"
            )
        return tokenizer, int(max_tokens)

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        # The collate already normalised the images; torchgeo's default kornia Normalize
        # (mean 0, std 255) would scale them again and trip over the token tensors.
        return batch

    def metadata(self) -> dict[str, Any]:
        """What an exported checkpoint records about its training data."""
        return {"gsd_m": self.gsd_m, "trained_on": self.trained_on or type(self).__name__}


class FolderDataModule(ReferringDataModule):
    """A dataset folder in one of the published layouts (``risbench``, ``rrsisd``, ``refsegrs``).

    Args:
        layout: which reader: ``risbench`` (also ``geocrobim synth chips`` output),
            ``rrsisd`` or ``refsegrs``.
        root: the dataset folder.
        max_pairs: keep at most this many pairs per split (None: all), for quick runs.
        image_size: side S the samples are resized to (480: the published protocol).
        **kwargs: as :class:`ReferringDataModule` (batch_size, num_workers, eval_batch_size,
            hflip, vflip, random_boxes, seed, gsd_m, trained_on).
    """

    def __init__(
        self, layout: str, root: str, max_pairs: int | None = None, image_size: int = 480, **kwargs: Any
    ) -> None:
        kwargs.setdefault("trained_on", layout)
        reader = _reader(layout_class(layout), image_size, max_pairs)
        super().__init__(reader, image_size=image_size, root=root, **kwargs)


class RISBenchDataModule(FolderDataModule):
    """RISBench: ``img_rgb/``, ``mask/``, ``output_phrase_{split}.txt`` (16 known-bad files skipped).

    Args:
        root: the ``RISBench_dataset`` folder.
        trained_on: description recorded in the exported checkpoint.
        **kwargs: as :class:`FolderDataModule`.
    """

    def __init__(self, root: str, trained_on: str = "RISBench", **kwargs: Any) -> None:
        super().__init__("risbench", root, trained_on=trained_on, **kwargs)


class RRSISDDataModule(FolderDataModule):
    """RRSIS-D: ``refs(unc).p`` (restricted unpickler) + ``instances.json`` + images (27 bad skipped).

    Args:
        root: the RRSIS-D folder (see ``geocrobim.data.RRSISD`` for the layout).
        trained_on: description recorded in the exported checkpoint.
        **kwargs: as :class:`FolderDataModule`.
    """

    def __init__(self, root: str, trained_on: str = "RRSIS-D", **kwargs: Any) -> None:
        super().__init__("rrsisd", root, trained_on=trained_on, **kwargs)


class RefSegRSDataModule(FolderDataModule):
    """RefSegRS: ``images/*.tif``, ``masks/*.tif``, ``output_phrase_{split}.txt``.

    Args:
        root: the RefSegRS folder.
        trained_on: description recorded in the exported checkpoint.
        **kwargs: as :class:`FolderDataModule`.
    """

    def __init__(self, root: str, trained_on: str = "RefSegRS", **kwargs: Any) -> None:
        super().__init__("refsegrs", root, trained_on=trained_on, **kwargs)


class SyntheticDataModule(ReferringDataModule):
    """Synthetic referring chips rendered on the fly (numpy + Pillow + shapely; no files).

    Training draws fresh scenes every epoch from the ``train`` seed stream; validation
    and test are the first ``val_size`` / ``test_size`` samples of the independent
    ``val`` and ``test`` streams.

    Args:
        train_size: training samples per epoch (all processes together).
        val_size: validation samples.
        test_size: test samples.
        chip_size: rendered chip side in pixels (resized to ``image_size`` if different).
        gsds: ground sample distances in metres, one drawn per scene, as rendered (the
            model sees ``gsd * chip_size / image_size``, which the checkpoint records).
        per_scene: expressions per rendered training scene (rendering is the costly part).
        eval_per_scene: expressions per validation/test scene.
        seed: base seed of all three streams (and of the random-boxes subset).
        batch_size: training samples per batch and process.
        image_size: side S the chips are resized to (the model's input size).
        gsd_m: GSD recorded in the exported checkpoint (None: the median GSD the model
            sees, i.e. of ``gsds`` scaled by ``chip_size / image_size``).
        trained_on: description recorded in the exported checkpoint (None: generated).
        **kwargs: as :class:`ReferringDataModule` (num_workers, eval_batch_size, hflip,
            vflip, random_boxes).
    """

    def __init__(
        self,
        train_size: int = 20000,
        val_size: int = 500,
        test_size: int = 1000,
        chip_size: int = 256,
        gsds: list[float] | None = None,
        per_scene: int = 4,
        eval_per_scene: int = 1,
        seed: int = 0,
        batch_size: int = 16,
        image_size: int = 256,
        gsd_m: float | None = None,
        trained_on: str = "",
        **kwargs: Any,
    ) -> None:
        gsd_list = [float(g) for g in (gsds if gsds is not None else DEFAULT_GSDS)]
        build = partial(
            _synthetic_split,
            sizes={"train": train_size, "val": val_size, "test": test_size},
            per_scene={"train": per_scene, "val": eval_per_scene, "test": eval_per_scene},
            size=chip_size,
            gsds=gsd_list,
            seed=seed,
        )
        # The model sees chips resized to image_size: its GSD is the rendered one times this.
        scale = chip_size / image_size
        seen = [g * scale for g in gsd_list]
        trained_on = trained_on or (
            f"synthetic referring chips (geocrobim.data.synthetic, seed {seed}, {chip_size} px, "
            f"GSD {min(gsd_list):g}-{max(gsd_list):g} m"
            + (f", resized to {image_size} px: {min(seen):g}-{max(seen):g} m)" if scale != 1 else ")")
        )
        median = float(np.median(seen))
        super().__init__(
            build, batch_size=batch_size, image_size=image_size, seed=seed, trained_on=trained_on,
            gsd_m=gsd_m if gsd_m is not None else median, **kwargs,
        )  # fmt: skip
        self.gsds = seen

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "gsd_range_m": [min(self.gsds), max(self.gsds)]}


def _synthetic_split(
    split: str, *, sizes: dict[str, int], per_scene: dict[str, int], **common: Any
) -> Dataset[dict[str, Any]]:
    """The on-the-fly dataset of a split (a picklable factory for ``NonGeoDataModule``)."""
    if split == "train":
        return SyntheticStream(sizes[split], per_scene=per_scene[split], **common)
    from geocrobim.data import SyntheticReferring

    return SyntheticReferring(sizes[split], split=split, per_scene=per_scene[split], **common)


class SyntheticScenesDataModule(ReferringDataModule):
    """Synthetic scenes for the sample-efficient CPU recipe (:mod:`geocrobim.training.scenes`).

    Each batch holds ``batch_size`` rendered scenes with up to ``per_scene`` expressions
    each (the image encoder runs once per scene), plus the dense category/colour maps and
    the expression parses the task's training-only heads learn. Chips are rendered at
    the model's input size (no resize), so the model's GSD is the rendered one.

    Args:
        train_size: training scenes per epoch (fresh ones every epoch).
        val_size: validation scenes (the ``val`` stream; the same scenes every time).
        test_size: test scenes (the ``test`` stream).
        gsds: GSDs in metres, one drawn per scene.
        per_scene: expressions per training scene (K).
        eval_per_scene: expressions per validation/test scene.
        seed: base seed of the three streams.
        batch_size: scenes per training batch and process.
        image_size: chip side and model input S.
        hflip: probability of a horizontal flip (every expression rewritten).
        vflip: probability of a vertical flip.
        jitter: brightness/contrast jitter amplitude (no hue change: colour words stay true).
        gsd_m: GSD recorded in the export (None: the median of ``gsds``).
        trained_on: description recorded in the export (None: generated).
        styles: training expression-style weights to change, e.g. ``{"superlative": 0.15,
            "ordinal": 0.12}`` to practise ranks more (validation and test keep the defaults, so
            their figures stay comparable); keys of ``geocrobim.data.synthetic.referents.STYLES``.
        **kwargs: ``num_workers``, ``eval_batch_size``.
    """

    def __init__(
        self,
        train_size: int = 20000,
        val_size: int = 128,
        test_size: int = 500,
        gsds: list[float] | None = None,
        per_scene: int = 4,
        eval_per_scene: int = 2,
        seed: int = 0,
        batch_size: int = 8,
        image_size: int = 256,
        hflip: float = 0.5,
        vflip: float = 0.5,
        jitter: float = 0.1,
        gsd_m: float | None = None,
        trained_on: str = "",
        styles: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        gsd_list = [float(g) for g in (gsds if gsds is not None else DEFAULT_GSDS)]
        style_weights(styles)  # a bad style fails here, not in a DataLoader worker
        build = partial(
            _scene_split,
            sizes={"train": train_size, "val": val_size, "test": test_size},
            per_scene={"train": per_scene, "val": eval_per_scene, "test": eval_per_scene},
            size=image_size,
            gsds=gsd_list,
            seed=seed,
            flips=(hflip, vflip),
            jitter=jitter,
            styles=styles,
        )
        trained_on = trained_on or (
            f"synthetic referring scenes (geocrobim.data.synthetic, seed {seed}, {image_size} px, "
            f"GSD {min(gsd_list):g}-{max(gsd_list):g} m, {per_scene} expressions a scene"
            + (f", style weights {styles}" if styles else "") + ")"
        )
        super().__init__(
            build, batch_size=batch_size, image_size=image_size, seed=seed, trained_on=trained_on,
            gsd_m=gsd_m if gsd_m is not None else float(np.median(gsd_list)), **kwargs,
        )  # fmt: skip
        self.gsds = gsd_list

    def setup(self, stage: str) -> None:
        """Build the scene streams (no per-sample wrapping) and the grouped collate."""
        NonGeoDataModule.setup(self, stage)
        for split in ("train", "val", "test"):
            stream = getattr(self, f"{split}_dataset", None)
            if isinstance(stream, SyntheticSceneStream) and self.trainer is not None:
                stream.rank, stream.world_size = self.trainer.global_rank, self.trainer.world_size
        self.collate_fn = SceneCollate(*self._tokenizer())

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Any]]:
        stream = getattr(self, f"{split}_dataset", None)
        if split == "train" and isinstance(stream, SyntheticSceneStream) and self.trainer is not None:
            # Lightning has restored the step before it asks for the loader: skip the scenes used so far.
            stream.offset = self.trainer.global_step * self.batch_size * self.trainer.world_size
        loader = super()._dataloader_factory(split)
        if split != "train" or self.num_workers == 0:
            return loader
        # Render ahead: each worker keeps several batches of scenes ready while the model trains.
        return DataLoader(
            loader.dataset, batch_size=loader.batch_size, num_workers=self.num_workers, collate_fn=self.collate_fn,
            drop_last=True, persistent_workers=True, prefetch_factor=4,
        )  # fmt: skip

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "gsd_range_m": [min(self.gsds), max(self.gsds)]}


def _scene_split(
    split: str,
    *,
    sizes: dict[str, int],
    per_scene: dict[str, int],
    flips: tuple[float, float],
    jitter: float,
    styles: dict[str, float] | None = None,
    **common: Any,
) -> Dataset[dict[str, Any]]:
    """The scene stream of a split (augmented and style-weighted for training only; a picklable factory)."""
    augment: dict[str, Any] = {"hflip": flips[0], "vflip": flips[1], "jitter": jitter, "styles": styles} if split == "train" else {}
    return SyntheticSceneStream(sizes[split], split=split, per_scene=per_scene[split], **common, **augment)


#: Dataset names accepted by :func:`open_dataset` and ``geocrobim evaluate --dataset``.
DATASET_NAMES = ("risbench", "rrsisd", "refsegrs", "synthetic")


def layout_class(name: str) -> type[Any]:
    """The ``geocrobim.data`` class that reads a layout, imported on demand (RefSegRS's TIFFs
    need rasterio, which the on-the-fly synthetic path never loads).

    ``synthetic`` is the RISBench layout that ``geocrobim synth chips`` writes.
    """
    import geocrobim.data as data

    names = {"risbench": "RISBench", "synthetic": "SyntheticChips", "rrsisd": "RRSISD", "refsegrs": "RefSegRS"}
    if name not in names:
        raise UsageError(f"unknown dataset {name!r}; use one of {', '.join(DATASET_NAMES)}")
    return getattr(data, names[name])


def open_dataset(
    name: str, root: str | Path | None, split: str, image_size: int | None = None, **options: Any
) -> Dataset[dict[str, Any]]:
    """One split of a dataset by name, resized to ``image_size`` (None: native size).

    ``synthetic`` without a root renders ``geocrobim.data.SyntheticReferring`` chips on the
    fly (256 px, the default model's training chips, unless ``size`` is given in options).
    """
    if name == "synthetic" and root is None:
        from geocrobim.data import SyntheticReferring

        options = {"size": 256, **options}
        return SyntheticReferring(options.pop("length", 1000), split=split, image_size=image_size, **options)
    if name not in DATASET_NAMES:
        raise UsageError(f"unknown dataset {name!r}; use one of {', '.join(DATASET_NAMES)}")
    if root is None:
        raise UsageError(f"dataset {name!r} needs --root, the folder that holds it")
    return layout_class(name)(root=str(root), split=split, image_size=image_size, **options)


def _reader(dataset_class: type[Any], image_size: int, max_pairs: int | None) -> Any:
    """A picklable factory: ``dataset_class(..., image_size=image_size)``, optionally cut to ``max_pairs``."""
    return partial(_read_split, dataset_class, image_size, max_pairs)


def _read_split(dataset_class: type[Any], image_size: int, max_pairs: int | None, **kwargs: Any) -> Dataset[Any]:
    full = dataset_class(image_size=image_size, **kwargs)
    if max_pairs is None:
        return full
    return Subset(full, range(min(int(max_pairs), len(full))))
