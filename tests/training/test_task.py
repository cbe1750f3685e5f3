"""The task: model and tokenizer set-up, optimiser groups and the poly schedule it installs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from geocrobim.errors import UsageError
from geocrobim.models import load_checkpoint
from geocrobim.training.task import PairIoU, ReferringSegmentationTask


def _task(**kwargs: object) -> ReferringSegmentationTask:
    options = {"model": "crobim_test", "tokenizer": "builtin", **kwargs}
    return ReferringSegmentationTask(**options)  # type: ignore[arg-type]


def test_builtin_tokenizer_sizes_the_word_table_and_max_tokens_overrides() -> None:
    task = _task(max_tokens=12)
    assert task.model.config.text_encoder.vocab_size == task.tokenizer.vocab_size
    assert task.max_tokens == 12
    assert task.hparams["model"] == "crobim_test"


def test_optimizer_groups_and_poly_schedule() -> None:
    task = _task(lr=1e-3, weight_decay=0.05, poly_power=0.9)
    task._trainer = SimpleNamespace(estimated_stepping_batches=10)  # type: ignore[assignment]
    conf = task.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]
    assert conf["lr_scheduler"]["interval"] == "step"
    decay, exempt = opt.param_groups
    assert decay["weight_decay"] == 0.05 and exempt["weight_decay"] == 0.0
    names = dict(task.model.named_parameters())
    exempt_ids = {id(p) for p in exempt["params"]}
    for name, p in names.items():
        is_exempt = name.endswith("bias") or ".norm" in name or "position_embeddings" in name or "LayerNorm" in name
        if is_exempt:
            assert id(p) in exempt_ids, name
    assert any(id(p) not in exempt_ids for p in names.values())
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched["scheduler"].step()
    assert lrs == pytest.approx([1e-3 * (1 - i / 10) ** 0.9 for i in range(10)])


def test_frozen_text_encoder_is_left_out_of_the_optimizer() -> None:
    task = _task(text_trainable_layers=0)
    task._trainer = SimpleNamespace(estimated_stepping_batches=5)  # type: ignore[assignment]
    opt = task.configure_optimizers()["optimizer"]
    optimised = {id(p) for g in opt.param_groups for p in g["params"]}
    text = list(task.model.text_encoder.parameters())
    assert text and not any(id(p) in optimised for p in text)


def test_init_checkpoint_and_tokenizer_errors(tiny_checkpoint: Path) -> None:
    task = ReferringSegmentationTask(init_checkpoint=str(tiny_checkpoint))
    ckpt = load_checkpoint(tiny_checkpoint)
    assert task.model.config == ckpt.config and task.tokenizer.vocab_size == ckpt.tokenizer.vocab_size
    assert task.model.training
    with pytest.raises(UsageError, match="no tokenizer"):
        ReferringSegmentationTask(model="crobim_test")
    other = ReferringSegmentationTask(model="crobim_test", tokenizer=str(tiny_checkpoint / "tokenizer"))
    assert other.tokenizer.vocab_size == ckpt.tokenizer.vocab_size


def test_init_checkpoint_with_shape_keeping_overrides(tiny_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    size = ckpt.config.image_size + 32  # any valid size: the convolutional weights do not depend on it
    task = ReferringSegmentationTask(init_checkpoint=str(tiny_checkpoint), model_overrides={"image_size": size})
    assert task.model.config.image_size == size and task.model.training
    assert task.model.config.replace(image_size=ckpt.config.image_size) == ckpt.config
    loaded = ckpt.model.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in task.model.state_dict().items())
    with pytest.raises(UsageError, match="change the shape"):
        ReferringSegmentationTask(
            init_checkpoint=str(tiny_checkpoint), model_overrides={"text_encoder.hidden": 2 * ckpt.config.text_encoder.hidden}
        )


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\(\)`")
def test_training_step_runs_backward() -> None:
    task = _task()
    batch = {
        "image": torch.randn(2, 3, 64, 64),
        "mask": torch.zeros(2, 64, 64, dtype=torch.bool),
        **dict(zip(("input_ids", "attention_mask"), task.tokenizer(["the lake", "the road"], task.max_tokens))),
    }
    batch["mask"][0, 10:20, 10:20] = True
    loss = task.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and task.model.head.bias.grad is not None


def test_pair_iou_metric_counts_pairs() -> None:
    metric = PairIoU()
    pred = torch.zeros(2, 4, 4, dtype=torch.bool)
    pred[0, :2] = True
    target = torch.zeros(2, 4, 4, dtype=torch.bool)
    target[0, :1] = True
    metric.update(pred, target)
    out = metric.compute()
    assert out["pairs"] == 2 and out["oIoU"] == 0.5 and out["mIoU"] == 0.25 and out["P@0.5"] == 0.5
