"""The Lightning task that trains CroBIM: a torchgeo ``BaseTask`` subclass.

Its typed ``__init__`` signature is the ``model:`` section of the training YAML
(LightningCLI, as torchgeo), e.g.::

    model:
      class_path: geocrobim.training.ReferringSegmentationTask
      init_args:
        model: crobim_swin_b
        model_overrides: {"image_encoder.pretrained": /models/swin_b_22k_384.safetensors,
                          "text_encoder.pretrained": /models/bert-base-uncased}
        max_tokens: 50
        lr: 3.0e-5

Recipe (the RMSIN/LAVT lineage's): AdamW, weight decay 0.01 except norms, biases and position
tables, LR ``lr * (1 - it / total) ** 0.9`` stepped per iteration; loss 0.9 weighted CE +
0.1 Dice (2 classes) or BCE + Dice (1 class). Validation reports oIoU (monitored, "max"),
mIoU and P@0.5; test reports every column of the paper.

Batches come from :mod:`geocrobim.training.datamodule`: ``image`` (B, 3, S, S) float
ImageNet-normalised, ``mask`` (B, S, S) bool, ``input_ids`` / ``attention_mask`` (B, L)
long, ``expression`` list[str], ``id`` list[str].
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from geocrobim.errors import UsageError
from geocrobim.models import TextTokenizer, create_model, get_config, load_checkpoint
from geocrobim.models.crobim import CroBIM
from geocrobim.models.head import foreground_logit
from geocrobim.training._base import BaseTask
from geocrobim.training.auxiliary import DenseHead, ParseHead
from geocrobim.training.losses import DiceReduction, ReferringLoss
from geocrobim.training.metrics import summarize
from geocrobim.training.optim import param_groups, poly_lambda
from geocrobim.training.scenes import CATEGORIES, COLOURS, PARSE_CLASSES
from geocrobim.training.vocab import builtin_tokenizer, glove_tokenizer, init_word_vectors

logger = logging.getLogger(__name__)


class PairIoU(Metric):
    """Per-pair intersection and union counts, gathered across DDP processes ("cat").

    ``compute()`` returns :func:`geocrobim.training.metrics.summarize` of all pairs.
    """

    full_state_update = False
    # Metric states: lists of (B,) tensors until DDP synchronisation concatenates them.
    intersections: list[Tensor]
    unions: list[Tensor]

    def __init__(self) -> None:
        super().__init__()
        self.add_state("intersections", default=[], dist_reduce_fx="cat")
        self.add_state("unions", default=[], dist_reduce_fx="cat")

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add (B, H, W) bool predictions and targets (counted on their device)."""
        pred, target = pred.flatten(1).bool(), target.flatten(1).bool()
        self.intersections.append((pred & target).sum(1))
        self.unions.append((pred | target).sum(1))

    def compute(self) -> dict[str, float]:
        # A list before synchronisation, one concatenated tensor after it (under DDP).
        if isinstance(self.intersections, list) and not self.intersections:
            return summarize(torch.zeros(0).numpy(), torch.zeros(0).numpy())
        inter = dim_zero_cat(self.intersections).cpu().numpy()
        union = dim_zero_cat(self.unions).cpu().numpy()
        return summarize(inter, union)


class ReferringSegmentationTask(BaseTask):
    """Train and evaluate CroBIM on (image, expression, mask) triplets.

    Args:
        model: preset name (``crobim_swin_b``, ``crobim_convnext_b``, ``crobim_small``,
            ``crobim_test``); see ``geocrobim.models.list_models()``.
        model_overrides: config overrides for the preset, dotted keys or nested dicts,
            e.g. ``{"text_encoder.pretrained": "/models/bert-base-uncased", "num_classes": 1}``.
        init_checkpoint: start from a geocrobim checkpoint directory (its weights, config
            and tokenizer; ``model`` and ``tokenizer`` are then ignored, and
            ``model_overrides`` may change only settings that keep the weights' shapes,
            such as ``image_size``).
        tokenizer: a tokenizer directory (``vocab.txt`` or ``tokenizer.json``), or
            ``"builtin"`` (the self-made WordPiece vocab of the synthetic grammar, for
            models without pretrained BERT). None: the checkpoint's, else the
            ``text_encoder.pretrained`` directory's.
        max_tokens: tokenizer length L (RefSegRS 20, RRSIS-D 22, RISBench 50); None keeps
            the preset's.
        text_trainable_layers: None trains all of BERT; ``n`` freezes its embeddings and
            layers ``n`` and up (RMSIN: 10); 0 freezes BERT.
        ce_weight: weight of the weighted CE (2 classes) or BCE (1 class) term.
        dice_weight: weight of the Dice term.
        class_weights: CE weights of background and foreground.
        dice_reduction: ``"sum"`` over batch and class (RMSIN) or ``"mean"``.
        lr: AdamW base learning rate.
        weight_decay: AdamW weight decay (not applied to norms, biases, position tables).
        poly_power: exponent of the poly decay, stepped per iteration.
        warmup_steps: linear warm-up steps before the poly decay (0 in the lineage).
        word_vectors: ``"glove"`` builds the tokenizer over GloVe's everyday vocabulary
            and fills BERT's word table with the 50-d GloVe vectors (zero-padded to H), so
            words the training data never used land near their synonyms
            (:func:`geocrobim.training.vocab.glove_tokenizer`); None leaves both alone.
        freeze_word_vectors: keep that word table fixed (unseen words keep their place
            relative to the trained ones).
        encoder_frozen_stages: freeze the pretrained image encoder's stem and its first
            ``n`` stages (timm ``blocks``), batch-norm statistics included.
        encoder_lr_scale: learning-rate factor of the image encoder's trainable part.
        aux_weight: weight of the training-only dense heads (category and colour of every
            object per pixel); needs batches from
            :class:`geocrobim.training.SyntheticScenesDataModule`. 0 turns them off.
        parse_weight: weight of the training-only expression-parse head. 0 turns it off.
    """

    monitor = "val_oIoU"
    mode = "max"

    def __init__(
        self,
        model: str = "crobim_swin_b",
        model_overrides: dict[str, Any] | None = None,
        init_checkpoint: str | None = None,
        tokenizer: str | None = None,
        max_tokens: int | None = None,
        text_trainable_layers: int | None = None,
        ce_weight: float = 0.9,
        dice_weight: float = 0.1,
        class_weights: tuple[float, float] = (0.9, 1.1),
        dice_reduction: DiceReduction = "sum",
        lr: float = 3e-5,
        weight_decay: float = 0.01,
        poly_power: float = 0.9,
        warmup_steps: int = 0,
        word_vectors: Literal["glove"] | None = None,
        freeze_word_vectors: bool = True,
        encoder_frozen_stages: int = 0,
        encoder_lr_scale: float = 1.0,
        aux_weight: float = 0.0,
        parse_weight: float = 0.0,
    ) -> None:
        self.tokenizer: TextTokenizer
        self.model: CroBIM
        super().__init__()
        self._freeze_encoder()

    # -- torchgeo template hooks -------------------------------------------------------

    def configure_models(self) -> None:
        """Build the model and its tokenizer from the preset (or the init checkpoint)."""
        hp = self.hparams
        if hp["init_checkpoint"]:
            fixed = ("tokenizer", "max_tokens", "text_trainable_layers")
            ignored = [k for k in fixed if hp[k] is not None]
            if ignored:
                logger.warning("init_checkpoint given: ignoring %s (the checkpoint fixes them)", ", ".join(ignored))
            ckpt = load_checkpoint(hp["init_checkpoint"])
            self.model, self.tokenizer = ckpt.model, ckpt.tokenizer
            # The checkpoint fixes the model: record its preset, not the unused ``model`` argument,
            # so a fine-tuned export's metadata names what it really is.
            hp["model"] = ckpt.metadata.get("preset")
            if hp["model_overrides"]:
                # Overrides that keep every weight's shape (image_size, drop_path_rate, ...)
                # continue training the same weights under a changed config. Overrides that
                # add a module (mid.mask_refine) keep the old weights and start the new one
                # from its own initialisation; any other change fails below.
                config = ckpt.config.replace(**hp["model_overrides"])
                self.model = CroBIM(config, load_pretrained=False)
                try:
                    missing, unexpected = self.model.load_state_dict(ckpt.model.state_dict(), strict=False)
                except RuntimeError as exc:
                    missing, unexpected = [], [str(exc)]
                if unexpected:
                    raise UsageError(
                        f"model_overrides {hp['model_overrides']} change or remove weights of {ckpt.path}; "
                        "with init_checkpoint override only settings that keep them (e.g. image_size) "
                        "or that add a module (e.g. mid.mask_refine)"
                    )
                if missing:
                    added = sorted({key.rsplit(".", 2)[0] for key in missing})
                    logger.info("new modules start from their initialisation: %s", ", ".join(added))
            self.model.train()
            logger.info("initialised from checkpoint %s", ckpt.path)
            self._configure_aux_heads()
            return
        overrides = dict(hp["model_overrides"] or {})
        if hp["max_tokens"] is not None:
            overrides["max_tokens"] = int(hp["max_tokens"])
        if hp["text_trainable_layers"] is not None:
            overrides["text_encoder.trainable_layers"] = int(hp["text_trainable_layers"])
        config = get_config(hp["model"], **overrides)
        if hp["word_vectors"] == "glove":
            self.tokenizer = glove_tokenizer()
        else:
            self.tokenizer = resolve_tokenizer(hp["tokenizer"], config.text_encoder.pretrained)
        if config.text_encoder.pretrained is None and config.text_encoder.vocab_size != self.tokenizer.vocab_size:
            # Random-init BERT: size the word table to the tokenizer (no rows that never train).
            overrides["text_encoder.vocab_size"] = self.tokenizer.vocab_size
        elif self.tokenizer.vocab_size > config.text_encoder.vocab_size:
            raise UsageError(
                f"tokenizer has {self.tokenizer.vocab_size} tokens but the pretrained BERT has "
                f"{config.text_encoder.vocab_size}; use the tokenizer that came with the BERT weights"
            )
        self.model = create_model(hp["model"], **overrides)
        if hp["word_vectors"] == "glove":
            found = init_word_vectors(self.model, self.tokenizer)
            logger.info("word table from GloVe: %d of %d tokens have a vector", found, self.tokenizer.vocab_size)
        self._configure_aux_heads()

    def _configure_aux_heads(self) -> None:
        """Training-only heads (dropped at export: they are not part of ``self.model``)."""
        hp = self.hparams
        self.dense_head = (
            DenseHead(self.model.image_encoder.channels, len(CATEGORIES) + 1, len(COLOURS) + 1)
            if hp["aux_weight"]
            else None
        )
        self.parse_head = ParseHead(self.model.config.text_encoder.hidden, PARSE_CLASSES) if hp["parse_weight"] else None

    def _freeze_encoder(self) -> None:
        """Freeze the word table and the encoder's stem and first stages as the task asks."""
        hp = self.hparams
        if hp["word_vectors"] and hp["freeze_word_vectors"]:
            self.model.text_encoder.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        for module in self._frozen_encoder_parts():
            module.requires_grad_(False)

    def _frozen_encoder_parts(self) -> list[torch.nn.Module]:
        n = int(self.hparams["encoder_frozen_stages"])
        if n <= 0:
            return []
        trunk = self.model.image_encoder.trunk
        stem = [getattr(trunk, name) for name in ("conv_stem", "bn1", "stem") if isinstance(getattr(trunk, name, None), torch.nn.Module)]
        stages = getattr(trunk, "blocks", None) or getattr(trunk, "stages", None) or getattr(trunk, "layers", None)
        if stages is None:
            raise UsageError(f"encoder_frozen_stages={n}: {type(trunk).__name__} has no blocks/stages/layers to freeze")
        return [*stem, *list(stages)[:n]]

    def train(self, mode: bool = True) -> ReferringSegmentationTask:
        """Frozen encoder parts keep their batch-norm statistics (eval mode) while training."""
        super().train(mode)
        for module in self._frozen_encoder_parts():
            module.eval()
        return self

    def configure_losses(self) -> None:
        hp = self.hparams
        self.criterion = ReferringLoss(
            num_classes=self.model.config.num_classes,
            ce_weight=hp["ce_weight"],
            dice_weight=hp["dice_weight"],
            class_weights=tuple(hp["class_weights"]),
            dice_reduction=hp["dice_reduction"],
        )

    def configure_metrics(self) -> None:
        self.val_metrics = PairIoU()
        self.test_metrics = PairIoU()

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW on decay / no-decay groups (the encoder's split off when its LR is scaled), poly schedule."""
        hp = self.hparams
        groups = []
        encoder = {id(p) for p in self.model.image_encoder.parameters()}
        scale = float(hp["encoder_lr_scale"])
        heads = [h for h in (self.dense_head, self.parse_head) if h is not None]
        for module in (self.model, *heads):
            for group in param_groups(module, hp["weight_decay"]):
                group.pop("names")
                params = [p for p in group["params"] if p.requires_grad]
                # A pretrained encoder learns more slowly than the fresh fusion modules.
                scaled = [p for p in params if id(p) in encoder] if scale != 1.0 else []
                rest = [p for p in params if id(p) not in encoder] if scaled else params
                groups += [{**group, "params": rest}] if rest else []
                groups += [{**group, "params": scaled, "lr": hp["lr"] * scale}] if scaled else []
        optimizer = torch.optim.AdamW(groups, lr=hp["lr"])
        total = int(self.trainer.estimated_stepping_batches)
        schedule = poly_lambda(total, hp["poly_power"], hp["warmup_steps"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}

    # -- steps ---------------------------------------------------------------------------

    @property
    def max_tokens(self) -> int:
        """Tokenizer length L the datamodule pads to (the model config's ``max_tokens``)."""
        return int(self.model.config.max_tokens)

    def forward(self, images: Tensor, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits (B, C, H, W) for (B, 3, H, W) normalised images and (B, L) tokens."""
        return self.model(images, input_ids, attention_mask)

    def _shared_step(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        logits = self(batch["image"], batch["input_ids"], batch["attention_mask"])
        return logits, self.criterion(logits, batch["mask"])

    def _grouped_step(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """A scene batch: encode each image once, decode its K expressions, add the aux losses.

        Returns:
            Logits (N, C, S, S) of the N valid pairs, their masks (N, S, S), the total
            loss and its parts.
        """
        images, valid = batch["image"], batch["valid"]
        k = valid.shape[1]
        pairs = valid.flatten().nonzero().squeeze(1)
        window = pairs // k
        ids = batch["input_ids"].flatten(0, 1)[pairs]
        attention = batch["attention_mask"].flatten(0, 1)[pairs]
        feats = self.model.encode_image(self.model._to_model_size(images))
        text = self.model.encode_text(ids, attention)
        logits = self.model.decode([f[window] for f in feats], ids, attention, text.word_features)
        logits = self.model._to_input_size(logits, *images.shape[-2:])
        masks = batch["mask"].flatten(0, 1)[pairs]
        parts = {"seg": self.criterion(logits, masks)}
        if self.dense_head is not None and "semantic" in batch:
            category, colour = self.dense_head(feats, tuple(batch["semantic"].shape[-2:]))
            parts["dense"] = F.cross_entropy(category, batch["semantic"]) + F.cross_entropy(colour, batch["colour"])
        if self.parse_head is not None and "parse" in batch and text.word_features is not None:
            targets = batch["parse"].flatten(0, 1)[pairs]
            parts["parse"] = sum(
                F.cross_entropy(out, targets[:, j]) for j, out in enumerate(self.parse_head(text.word_features))
            )
        hp = self.hparams
        loss = parts["seg"] + hp["aux_weight"] * parts.get("dense", 0.0) + hp["parse_weight"] * parts.get("parse", 0.0)
        return logits, masks, loss, parts

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        if "valid" in batch:
            _, _, loss, parts = self._grouped_step(batch)
            n = int(batch["valid"].sum())
            for name, value in parts.items():
                self.log(f"train_{name}", value, batch_size=n)
        else:
            _, loss = self._shared_step(batch)
            n = len(batch["image"])
        self.log("train_loss", loss, prog_bar=True, batch_size=n)
        return loss

    def _evaluation_step(self, batch: dict[str, Any], stage: str) -> None:
        if "valid" in batch:
            logits, masks, loss, _ = self._grouped_step(batch)
        else:
            logits, loss = self._shared_step(batch)
            masks = batch["mask"]
        self.log(f"{stage}_loss", loss, batch_size=len(masks), sync_dist=True)
        getattr(self, f"{stage}_metrics").update(foreground_logit(logits) > 0, masks)

    def _evaluation_metrics(self, stage: str) -> dict[str, float]:
        metric = getattr(self, f"{stage}_metrics")
        m = metric.compute()  # already gathered over processes by the metric: no sync_dist below
        metric.reset()
        return m

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluation_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        m = self._evaluation_metrics("val")
        self.log_dict({"val_oIoU": m["oIoU"], "val_mIoU": m["mIoU"], "val_P@0.5": m["P@0.5"]}, prog_bar=True)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluation_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        m = self._evaluation_metrics("test")
        self.log_dict({f"test_{k}": v for k, v in m.items() if k != "pairs"})

def resolve_tokenizer(spec: str | None, pretrained_text: str | None) -> TextTokenizer:
    """The tokenizer named by the task's ``tokenizer`` argument.

    Args:
        spec: a directory, ``"builtin"``, or None (take ``pretrained_text``'s directory).
        pretrained_text: the text encoder's ``pretrained`` setting (a directory or hub id).

    Raises:
        UsageError: nothing says where the vocabulary comes from.
    """
    if spec == "builtin":
        return builtin_tokenizer()
    if spec is not None:
        return TextTokenizer.from_dir(spec)
    if pretrained_text is not None and Path(pretrained_text).expanduser().is_dir():
        return TextTokenizer.from_dir(Path(pretrained_text).expanduser())
    raise UsageError(
        "no tokenizer: set model.init_args.tokenizer to a directory with vocab.txt (e.g. the BERT weights' "
        "folder) or to 'builtin' for a model trained from scratch on synthetic data"
    )
