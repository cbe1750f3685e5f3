"""Train from a YAML config: LightningCLI on the task's and datamodule's typed signatures.

::

    python -m geocrobim.training.fit --config configs/synthetic_small.yaml [--test] [overrides]
    geocrobim train --config configs/risbench.yaml --model.init_args.lr=1e-4 trainer.devices=4

Overrides are LightningCLI's ``--section.key=value`` or the shorter ``section.key=value``.
The config names classes with ``class_path``/``init_args`` (torchgeo's convention).
When ``trainer.precision`` is not set, it is ``bf16-mixed`` on a CUDA GPU with bf16 and
``32-true`` on the CPU. Multi-GPU and multi-node DDP come from ``trainer.strategy``,
``trainer.devices`` and ``trainer.num_nodes`` (launch one process per node, e.g. with
``srun`` or ``torchrun``, as Lightning documents). ``--test`` runs the test split on the
selected weights after fitting.

This module needs Lightning and jsonargparse but not torchgeo or rasterio: on a machine
without them the task and datamodules fall back to plain Lightning bases
(:mod:`geocrobim.training._base`).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch.cli import LightningCLI

from geocrobim import __version__
from geocrobim.training.datamodule import ReferringDataModule
from geocrobim.training.task import ReferringSegmentationTask

logger = logging.getLogger(__name__)


def default_precision(accelerator: Any) -> str:
    """``bf16-mixed`` when training will run on a bf16-capable CUDA GPU, else ``32-true``."""
    name = str(accelerator or "auto").lower()
    on_gpu = name in ("gpu", "cuda") or (name == "auto" and torch.cuda.is_available())
    return "bf16-mixed" if on_gpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"


class GeoCrobimCLI(LightningCLI):
    """LightningCLI that fills in the precision from the hardware when the config leaves it unset."""

    def before_instantiate_classes(self) -> None:
        trainer = self.config["trainer"]
        if trainer.get("precision") is None:
            trainer["precision"] = default_precision(trainer.get("accelerator"))
            logger.info("trainer.precision not set; using %s", trainer["precision"])
        if str(trainer["precision"]).startswith("bf16") and torch.cuda.is_available():
            torch.set_float32_matmul_precision("high")  # TF32 for the fp32 parts


def normalise_overrides(args: Sequence[str]) -> list[str]:
    """Turn ``section.key=value`` into ``--section.key=value``; leave ``--...`` and values as they are."""
    out: list[str] = []
    for arg in args:
        if not arg.startswith("-") and "=" in arg and "." in arg.split("=", 1)[0]:
            out.append("--" + arg)
        else:
            out.append(arg)
    return out


def build_cli(args: Sequence[str]) -> GeoCrobimCLI:
    """Parse ``args`` (config files and overrides) and instantiate trainer, task and datamodule."""
    # ``args`` is the command line minus our own flags; LightningCLI's "args and sys.argv" warning is moot.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter", category=UserWarning)
    # SyntheticStream's len() is exact: each worker yields whole batches of its own scenes.
    warnings.filterwarnings("ignore", message="Your `IterableDataset` has `__len__` defined")
    return GeoCrobimCLI(
        model_class=ReferringSegmentationTask,
        datamodule_class=ReferringDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"version": f"geocrobim {__version__}"},
        args=normalise_overrides(args),
        run=False,
    )


def main(args: Sequence[str] | None = None, test: bool = False, resume: bool = False) -> GeoCrobimCLI:
    """Fit (and optionally test) from a config.

    Args:
        args: command-line arguments (``--config FILE`` and overrides); None reads
            ``sys.argv[1:]``. A ``--test`` / ``--resume`` among them is the same as
            ``test=True`` / ``resume=True``.
        test: run the test split after fitting, on the weights the export selected.
        resume: continue from the newest ``last.ckpt`` of the config's ``ModelCheckpoint``
            (weights, optimizer, schedule, step and the export's best so far); without
            one, start afresh with a warning.

    Returns:
        The CLI object (``.trainer``, ``.model``, ``.datamodule``).
    """
    args = list(sys.argv[1:] if args is None else args)
    for flag in ("--test", "--resume"):
        if flag in args:
            args.remove(flag)
            test, resume = (True, resume) if flag == "--test" else (test, True)
    cli = build_cli(args)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path="last" if resume else None)
    if test:
        cli.trainer.test(cli.model, datamodule=cli.datamodule)
    return cli


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    logging.basicConfig(level=logging.INFO, format="geocrobim: %(levelname)s: %(message)s")
    main()
