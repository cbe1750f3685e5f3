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
    return ReferringSegmentationTask(**options)  # type: ignore[arg-type]  # test options as a dict of mixed types


def test_builtin_tokenizer_sizes_the_word_table_and_max_tokens_overrides() -> None:
    task = _task(max_tokens=12)
    assert task.model.config.text_encoder.vocab_size == task.tokenizer.vocab_size
    assert task.max_tokens == 12
    assert task.hparams["model"] == "crobim_test"


def test_optimizer_groups_and_poly_schedule() -> None:
    task = _task(lr=1e-3, weight_decay=0.05, poly_power=0.9)
    task._trainer = SimpleNamespace(estimated_stepping_batches=10)  # type: ignore[assignment]  # a stand-in trainer with the one attribute used
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
    task._trainer = SimpleNamespace(estimated_stepping_batches=5)  # type: ignore[assignment]  # a stand-in trainer with the one attribute used
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
    with pytest.raises(UsageError, match="change or remove weights"):
        ReferringSegmentationTask(
            init_checkpoint=str(tiny_checkpoint), model_overrides={"text_encoder.hidden": 2 * ckpt.config.text_encoder.hidden}
        )


def test_init_checkpoint_adds_mask_refine(tiny_checkpoint: Path) -> None:
    """A continuation may add the refinement module: old weights kept, the new one starts at zero."""
    ckpt = load_checkpoint(tiny_checkpoint)
    assert not ckpt.config.mid.mask_refine
    task = ReferringSegmentationTask(
        init_checkpoint=str(tiny_checkpoint), model_overrides={"mid.mask_refine": True, "mid.refine_width": 8}
    )
    state, loaded = task.model.state_dict(), ckpt.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in loaded.items())
    added = sorted(set(state) - set(loaded))
    assert added and all(k.startswith("mid.mask_refine.") for k in added)
    assert not task.model.mid.mask_refine.out.weight.any()


def test_init_checkpoint_adds_pixel_attention_without_changing_the_answer(tiny_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    task = ReferringSegmentationTask(init_checkpoint=str(tiny_checkpoint), model_overrides={"mid.pixel_attention": True})
    added = sorted(set(task.model.state_dict()) - set(ckpt.model.state_dict()))
    assert added and all(".pixel_attn." in k for k in added)
    size = ckpt.config.image_size
    ids, mask = ckpt.tokenizer(["the large red building"], ckpt.config.max_tokens)
    image = torch.rand(1, 3, size, size)
    task.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(task.model(image, ids, mask), ckpt.model.eval()(image, ids, mask))


@pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`")
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


def test_frozen_encoder_stages_keep_weights_and_batch_norm_statistics() -> None:
    task = _task(encoder_frozen_stages=2, encoder_lr_scale=0.25, lr=1e-3)
    trunk = task.model.image_encoder.trunk
    frozen = [trunk.stem, *list(trunk.stages)[:2]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in list(trunk.stages)[2].parameters())
    task.train()
    assert all(not m.training for part in frozen for m in part.modules())
    assert list(trunk.stages)[2].training
    task._trainer = SimpleNamespace(estimated_stepping_batches=10)  # type: ignore[assignment]  # a stand-in trainer with the one attribute used
    opt = task.configure_optimizers()["optimizer"]
    encoder = {id(p) for p in task.model.image_encoder.parameters()}
    for group in opt.param_groups:
        in_encoder = {id(p) in encoder for p in group["params"]}
        assert len(in_encoder) == 1  # a group is all encoder or all the rest
        assert group["initial_lr"] == pytest.approx(2.5e-4 if in_encoder == {True} else 1e-3)
    optimised = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not any(id(p) in optimised for m in frozen for p in m.parameters())


def test_glove_word_vectors_fill_and_freeze_the_word_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from geocrobim.models import pretrained

    words = ["the", "red", "crimson", "warehouse", "building", "river"]
    vectors = np.random.default_rng(0).normal(size=(len(words), 50)).astype(np.float32)
    vectors[2] = vectors[1] + 0.01  # "crimson" next to "red"
    monkeypatch.setattr(pretrained, "load_glove", lambda: (words, vectors))
    task = _task(word_vectors="glove", model_overrides={"text_encoder.hidden": 64}, lr=1e-3)
    vocab = task.tokenizer.tokenizer.get_vocab()
    assert "crimson" in vocab and "[UNK]" in vocab and not any(t.startswith("##") for t in vocab)
    table = task.model.text_encoder.bert.embeddings.word_embeddings.weight
    assert table.shape == (task.tokenizer.vocab_size, 64) and not table.requires_grad
    torch.testing.assert_close(table[vocab["crimson"], :50], torch.from_numpy(vectors[2]))
    assert torch.all(table[vocab["red"], 50:] == 0) and torch.all(table[vocab["[PAD]"]] == 0)
    ids, _ = task.tokenizer(["the crimson warehouse", "the zyxwv warehouse"], 8)
    assert ids[0, 2] == vocab["crimson"] and ids[1, 2] == vocab["[UNK]"]


def test_grouped_batch_decodes_each_scene_once_with_aux_losses() -> None:
    from geocrobim.training.scenes import SceneCollate, SyntheticSceneStream

    task = _task(aux_weight=0.5, parse_weight=0.2)
    stream = SyntheticSceneStream(2, size=64, gsds=(0.5,), seed=1, per_scene=3)
    batch = SceneCollate(task.tokenizer, task.max_tokens)(list(stream))
    calls: list[int] = []
    encode = task.model.encode_image
    task.model.encode_image = lambda x: (calls.append(len(x)), encode(x))[1]  # type: ignore[method-assign]
    logits, masks, loss, parts = task._grouped_step(batch)
    assert calls == [2]  # one encoder pass for the scenes, whatever K is
    assert logits.shape[0] == masks.shape[0] == int(batch["valid"].sum())
    assert set(parts) == {"seg", "dense", "parse"}
    expected = parts["seg"] + 0.5 * parts["dense"] + 0.2 * parts["parse"]
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert task.dense_head is not None and task.dense_head.out[-1].weight.grad is not None
    assert task.parse_head is not None and task.parse_head.proj[-1].weight.grad is not None
