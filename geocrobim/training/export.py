"""Export the trained model as a geocrobim checkpoint directory when fitting ends.

Lightning's own ``.ckpt`` files are pickles (fine for resuming a run you made yourself,
refused by :func:`geocrobim.models.load_checkpoint`). :class:`ExportCheckpoint` keeps a
CPU copy of the weights of the best validation epoch (``val_oIoU``, as RMSIN selects
its checkpoint) and, on the main process at the end of ``fit``, loads them back into
the model and writes ``model.safetensors`` + ``config.json`` + ``tokenizer/`` +
``metadata.json`` with :func:`geocrobim.models.save_checkpoint`.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from geocrobim.errors import UsageError
from geocrobim.models import CroBIM, TextTokenizer, save_checkpoint
from geocrobim.training.vocab import check_glove_table, extend_glove_vocabulary

logger = logging.getLogger(__name__)


class ExportCheckpoint(Callback):
    """Write a geocrobim checkpoint directory at the end of ``fit``.

    Args:
        dirpath: the checkpoint directory to write (replaced if it exists).
        monitor: validation metric that picks the weights (higher is better).
        use_best: export the best validation epoch's weights; False exports the last.
        model_id: ``metadata["model_id"]``; default: the directory name.
        metadata: extra metadata merged over the automatic entries (model preset,
            datamodule's ``gsd_m`` / ``trained_on``, best validation metrics, steps).
        half: store floating weights as float16 (half the size on disk).
        export_on_improve: also write the directory each time the monitored metric
            improves, so a run that is killed still leaves its best weights behind.
        glove_words: export with GloVe's this many most common words
            (:func:`~geocrobim.training.vocab.extend_glove_vocabulary`); only for a model whose
            word table is frozen GloVe, which is checked when fitting starts. A frozen table is
            never trained, so the words added at export are read exactly as in training.
    """

    def __init__(
        self,
        dirpath: str,
        monitor: str = "val_oIoU",
        use_best: bool = True,
        model_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        half: bool = False,
        export_on_improve: bool = False,
        glove_words: int | None = None,
    ) -> None:
        self.dirpath = Path(dirpath)
        self.monitor = monitor
        self.use_best = use_best
        self.model_id = model_id
        self.metadata = dict(metadata or {})
        self.half = half
        self.export_on_improve = export_on_improve
        self.glove_words = glove_words
        self.best_score = -math.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_metrics: dict[str, float] = {}
        self.best_step = -1

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.use_best:
            check_last_step_validated(trainer.max_steps, trainer.val_check_interval)
        if self.glove_words:
            # Fail now, not at the first export an hour into the run.
            check_glove_table(cast(CroBIM, pl_module.model), cast(TextTokenizer, pl_module.tokenizer))

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        score = metrics.get(self.monitor)
        if score is None or not score > self.best_score:
            return
        self.best_score, self.best_metrics, self.best_step = score, metrics, trainer.global_step
        model = cast(CroBIM, pl_module.model)
        if self.use_best:
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if self.export_on_improve and trainer.is_global_zero:
            self._export(trainer, pl_module, model)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        model = cast(CroBIM, pl_module.model)
        if self.use_best and self.best_state is not None:
            # Every process loads the best weights, so a test run after fit sees the same model.
            model.load_state_dict(self.best_state)
        if not trainer.is_global_zero:
            return
        self._export(trainer, pl_module, model)

    def state_dict(self) -> dict[str, Any]:
        """Kept in Lightning's resume checkpoint, so a resumed run still knows its best weights."""
        return {
            "best_score": self.best_score,
            "best_metrics": self.best_metrics,
            "best_step": self.best_step,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = float(state_dict.get("best_score", -math.inf))
        self.best_metrics = dict(state_dict.get("best_metrics", {}))
        self.best_step = int(state_dict.get("best_step", -1))
        self.best_state = state_dict.get("best_state")

    def _export(self, trainer: Trainer, pl_module: LightningModule, model: CroBIM) -> None:
        tokenizer = cast(TextTokenizer, pl_module.tokenizer)
        if self.glove_words:
            model, tokenizer, added = extend_glove_vocabulary(model, tokenizer, self.glove_words)
            logger.info("export vocabulary: %d words (%d GloVe words added)", tokenizer.vocab_size, added)
        path = save_checkpoint(
            model,
            tokenizer,
            self.dirpath,
            metadata=self._metadata(trainer, pl_module),
            dtype=torch.float16 if self.half else None,
        )
        logger.info("exported geocrobim checkpoint to %s (best %s %.4f)", path, self.monitor, self.best_score)

    def _metadata(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        hp = dict(pl_module.hparams)
        datamodule = getattr(trainer, "datamodule", None)  # set by Trainer.fit; not in its type
        data_meta = datamodule.metadata() if datamodule is not None and hasattr(datamodule, "metadata") else {}
        val = {k.removeprefix("val_"): round(v, 6) for k, v in self.best_metrics.items() if k != "val_loss"}
        meta: dict[str, Any] = {
            "model_id": self.model_id or self.dirpath.name,
            "preset": hp.get("model"),
            **data_meta,
            "metrics": {"val": val} if val else {},
            "training": {
                "global_step": trainer.global_step,
                "epochs": trainer.current_epoch,  # epochs completed
                "selected_step": self.best_step if self.best_state is not None else trainer.global_step,
                "world_size": trainer.world_size,
                "precision": str(trainer.precision),
                "task": {k: list(v) if isinstance(v, tuple) else v for k, v in hp.items()},
                "exported_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        }
        meta.update(self.metadata)
        return meta


def check_last_step_validated(max_steps: Any, val_check_interval: Any) -> None:
    """Refuse a step budget whose last steps would never be validated, hence never exported.

    The export keeps the weights of the best validation; with validation every N steps and
    ``max_steps`` not a multiple of N, the last steps (where a decaying learning rate has
    annealed the weights) are trained and thrown away.

    Raises:
        UsageError: both are step counts and ``max_steps`` is not a multiple of the interval.
    """
    if not isinstance(max_steps, int) or not isinstance(val_check_interval, int) or isinstance(val_check_interval, bool):
        return  # an epoch fraction, or no step budget: nothing to check
    if max_steps > 0 and val_check_interval > 0 and max_steps % val_check_interval:
        fit = -(-max_steps // val_check_interval) * val_check_interval  # the next multiple up
        raise UsageError(
            f"trainer.max_steps={max_steps} is not a multiple of trainer.val_check_interval={val_check_interval}: "
            f"the last {max_steps % val_check_interval} steps would never be validated or exported; "
            f"use e.g. trainer.max_steps={fit}"
        )
