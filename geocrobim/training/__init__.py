"""Training and evaluation of CroBIM: a torchgeo task, datamodules, losses, metrics.

- :class:`ReferringSegmentationTask` (torchgeo ``BaseTask``) and the datamodules
  (torchgeo ``NonGeoDataModule``) are configured from YAML by ``geocrobim train``
  (:mod:`geocrobim.training.fit`, LightningCLI).
- :mod:`.metrics`: oIoU, mIoU and Precision@0.5-0.9 exactly as the reference code.
- :mod:`.losses`: weighted CE + Dice (2 classes) or BCE + Dice (1 class).
- :mod:`.evaluation`: ``evaluate_checkpoint`` behind ``geocrobim evaluate``.

Without torchgeo the task and datamodules sit on plain Lightning bases with the same
interface (:mod:`._base`). Heavy classes are imported on first access.
"""

from __future__ import annotations

from typing import Any

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()  # before Lightning / torchmetrics / torchgeo import torchvision

from geocrobim.training.metrics import COLUMNS, IoUAccumulator, summarize

_LAZY = {
    "ReferringSegmentationTask": "geocrobim.training.task",
    "ReferringDataModule": "geocrobim.training.datamodule",
    "FolderDataModule": "geocrobim.training.datamodule",
    "RISBenchDataModule": "geocrobim.training.datamodule",
    "RRSISDDataModule": "geocrobim.training.datamodule",
    "RefSegRSDataModule": "geocrobim.training.datamodule",
    "SyntheticScenesDataModule": "geocrobim.training.datamodule",
    "SyntheticDataModule": "geocrobim.training.datamodule",
    "ExportCheckpoint": "geocrobim.training.export",
    "ReferringLoss": "geocrobim.training.losses",
    "evaluate_checkpoint": "geocrobim.training.evaluation",
}

__all__ = ("COLUMNS", "IoUAccumulator", "summarize", *sorted(_LAZY))


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'geocrobim.training' has no attribute {name!r}")
