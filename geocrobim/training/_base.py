"""torchgeo's ``BaseTask`` and ``NonGeoDataModule``, or drop-in stand-ins when torchgeo is absent.

geocrobim's trainer subclasses torchgeo 0.8's bases (template-method ``BaseTask``:
``__init__`` saves the hyperparameters, then calls ``configure_models``,
``configure_losses`` and ``configure_metrics``; ``NonGeoDataModule``: ``setup`` builds
``dataset_class(split=..., **kwargs)`` per stage and the loaders come from
``_dataloader_factory``).

Some training machines have Lightning but not torchgeo (nor rasterio, which torchgeo
needs). There, and when ``GEOCROBIM_NO_TORCHGEO=1`` is set, the two classes below
provide exactly the parts of that interface geocrobim uses, on plain
``lightning.LightningModule`` / ``LightningDataModule``. ``USING_TORCHGEO`` says which
one is active; the YAML configs work unchanged with either.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule
from torch.utils.data import DataLoader, Dataset, default_collate

logger = logging.getLogger(__name__)


class _FallbackBaseTask(LightningModule, ABC):
    """The subset of ``torchgeo.trainers.BaseTask`` (0.8) that geocrobim relies on."""

    ignore: Sequence[str] | str | None = "weights"
    model: Any  # set by the subclass's configure_models
    monitor = "val_loss"
    mode = "min"

    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=self.ignore)
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()

    @abstractmethod
    def configure_models(self) -> None:
        """Initialize the model."""

    def configure_losses(self) -> None:
        """Initialize the loss criterion."""

    def configure_metrics(self) -> None:
        """Initialize the performance metrics."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)


class _FallbackNonGeoDataModule(LightningDataModule):
    """The subset of ``torchgeo.datamodules.NonGeoDataModule`` (0.8) that geocrobim relies on."""

    def __init__(
        self, dataset_class: type[Dataset[Any]], batch_size: int = 1, num_workers: int = 0, **kwargs: Any
    ) -> None:
        super().__init__()
        self.dataset_class = dataset_class
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.kwargs = kwargs
        self.train_dataset: Dataset[Any] | None = None
        self.val_dataset: Dataset[Any] | None = None
        self.test_dataset: Dataset[Any] | None = None
        self.predict_dataset: Dataset[Any] | None = None
        self.train_batch_size: int | None = None
        self.val_batch_size: int | None = None
        self.test_batch_size: int | None = None
        self.predict_batch_size: int | None = None
        self.collate_fn: Callable[[list[Any]], Any] = default_collate

    def setup(self, stage: str) -> None:
        if stage == "fit":
            self.train_dataset = self.dataset_class(split="train", **self.kwargs)  # type: ignore[call-arg]  # dataset classes take split= (NonGeoDataModule's contract); Dataset's type does not say so
        if stage in ("fit", "validate"):
            self.val_dataset = self.dataset_class(split="val", **self.kwargs)  # type: ignore[call-arg]  # dataset classes take split= (NonGeoDataModule's contract); Dataset's type does not say so
        if stage == "test":
            self.test_dataset = self.dataset_class(split="test", **self.kwargs)  # type: ignore[call-arg]  # dataset classes take split= (NonGeoDataModule's contract); Dataset's type does not say so

    def _valid_attribute(self, *names: str) -> Any:
        for name in names:
            obj = getattr(self, name)
            if obj is None:
                continue
            if not obj:
                raise RuntimeError(f"{type(self).__name__}.{name} has length 0.")
            return obj
        raise RuntimeError(f"{type(self).__name__}.setup must define one of {names}.")

    def _dataloader_factory(self, split: str) -> DataLoader[Any]:
        return DataLoader(
            self._valid_attribute(f"{split}_dataset", "dataset"),
            batch_size=self._valid_attribute(f"{split}_batch_size", "batch_size"),
            shuffle=split == "train",
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            drop_last=split == "train",
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader[Any]:
        return self._dataloader_factory("train")

    def val_dataloader(self) -> DataLoader[Any]:
        return self._dataloader_factory("val")

    def test_dataloader(self) -> DataLoader[Any]:
        return self._dataloader_factory("test")

    def predict_dataloader(self) -> DataLoader[Any]:
        return self._dataloader_factory("predict")


def _torchgeo_bases() -> tuple[type, type] | None:
    if os.environ.get("GEOCROBIM_NO_TORCHGEO", "") not in ("", "0"):
        return None
    try:
        from torchgeo.datamodules import NonGeoDataModule as TorchGeoDataModule
        from torchgeo.trainers import BaseTask as TorchGeoTask
    except ImportError as exc:  # torchgeo, rasterio or kornia missing
        logger.info("torchgeo unavailable (%s); training on plain Lightning base classes", exc)
        return None
    return TorchGeoTask, TorchGeoDataModule


_bases = _torchgeo_bases()
USING_TORCHGEO: bool = _bases is not None
BaseTask: type[Any] = _bases[0] if _bases else _FallbackBaseTask
NonGeoDataModule: type[Any] = _bases[1] if _bases else _FallbackNonGeoDataModule
