"""Datamodules: batches, tokenisation, normalisation, sharding and determinism of the stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from geocrobim.errors import UsageError
from geocrobim.models.predictor import IMAGENET_MEAN, IMAGENET_STD
from geocrobim.training.datamodule import RISBenchDataModule, SyntheticDataModule, open_dataset
from geocrobim.training.samples import ReferringCollate, SamplePreparer
from geocrobim.training.synthetic import SyntheticStream
from geocrobim.training.vocab import builtin_tokenizer

TOKENIZER = builtin_tokenizer()


def _synthetic(**options: object) -> SyntheticDataModule:
    args = {"train_size": 4, "val_size": 2, "test_size": 2, "chip_size": 64, "gsds": [0.5], "per_scene": 2,
            "batch_size": 2, "image_size": 48, "seed": 5, **options}  # fmt: skip
    dm = SyntheticDataModule(**args)  # type: ignore[arg-type]  # test arguments as a dict of mixed types
    dm.tokenizer, dm.max_tokens = TOKENIZER, 12
    return dm


def test_synthetic_batches_are_resized_tokenised_and_normalised() -> None:
    dm = _synthetic()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (2, 3, 48, 48) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (2, 48, 48) and batch["mask"].dtype == torch.bool
    assert batch["input_ids"].shape == (2, 12) and batch["attention_mask"].dtype == torch.long
    assert batch["input_ids"][:, 0].eq(TOKENIZER.tokenizer.cls_token_id).all()
    # ImageNet normalisation: every value maps back into 0-255.
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    raw = (batch["image"] * std + mean) * 255
    assert raw.min() > -1e-3 and raw.max() < 255 + 1e-3 and raw.max() > 50
    assert all(isinstance(e, str) and e for e in batch["expression"])
    val = next(iter(dm.val_dataloader()))
    assert val["image"].shape == (2, 3, 48, 48)
    # 64 px chips at 0.5 m served at 48 px: the model sees 0.5 * 64 / 48 m per pixel.
    assert dm.metadata()["gsd_m"] == pytest.approx(0.5 * 64 / 48) and "GSD 0.5-0.5 m" in dm.metadata()["trained_on"]


def test_synthetic_is_deterministic_and_eval_streams_are_not_training_streams() -> None:
    a, b = _synthetic(), _synthetic()
    a.setup("fit"), b.setup("fit")
    ba, bb = next(iter(a.train_dataloader())), next(iter(b.train_dataloader()))
    assert ba["expression"] == bb["expression"] and torch.equal(ba["image"], bb["image"])
    assert a.val_dataset.dataset.generator.split == "val"  # type: ignore[union-attr]  # the wrapped dataset's generator, known to exist here
    assert a.train_dataset.dataset.generator.split == "train"  # type: ignore[union-attr]  # the wrapped dataset's generator, known to exist here
    val = next(iter(a.val_dataloader()))
    assert not torch.equal(val["image"], ba["image"])
    other_seed = _synthetic(seed=6)
    other_seed.setup("fit")
    assert not torch.equal(next(iter(other_seed.train_dataloader()))["image"], ba["image"])


def test_stream_shards_ranks_and_workers_without_overlap_and_exact_length() -> None:
    ids = []
    for rank in (0, 1):
        stream = SyntheticStream(12, size=32, gsds=(1.0,), per_scene=2)
        stream.rank, stream.world_size, stream.batch_size = rank, 2, 2
        loader = DataLoader(stream, batch_size=2, num_workers=2, collate_fn=lambda s: [x["id"] for x in s])
        batches = list(loader)
        assert len(batches) == len(loader) == 3  # 12 samples / 2 ranks / batch 2
        ids += [i for b in batches for i in b]
    assert len(ids) == len(set(ids)) == 12
    # A second epoch draws new scenes.
    stream = SyntheticStream(4, size=32, gsds=(1.0,), per_scene=2)
    first, second = [s["id"] for s in stream], [s["id"] for s in stream]
    assert not set(first) & set(second)


def test_preparer_flips_with_the_expression() -> None:
    image = np.zeros((3, 8, 8), np.uint8)
    image[0, :, :4] = 200  # red on the left
    mask = np.zeros((8, 8), np.uint8)
    mask[:, :4] = 1
    sample = {"image": image, "mask": mask, "expression": "the red field on the left", "id": "a"}
    out = SamplePreparer(8, hflip=1.0)(sample, 0)
    assert out["expression"] == "the red field on the right"
    assert out["mask"][:, 4:].all() and not out["mask"][:, :4].any() and out["image"][0, 0, 7] == 200
    kept = SamplePreparer(8, hflip=1.0)({**sample, "expression": "the field right next to the road"}, 0)
    assert kept["mask"][:, :4].all()  # ambiguous "right": not flipped
    plain = SamplePreparer(16)(sample, 0)
    assert plain["image"].shape == (3, 16, 16) and plain["mask"].shape == (16, 16)


def test_risbench_datamodule_reads_the_layout(risbench_root: Path) -> None:
    dm = RISBenchDataModule(root=str(risbench_root), batch_size=2, image_size=32, max_pairs=3)
    dm.tokenizer, dm.max_tokens = TOKENIZER, 16
    dm.setup("test")
    batches = list(dm.test_dataloader())
    assert sum(len(b["id"]) for b in batches) == 3
    assert batches[0]["image"].shape == (2, 3, 32, 32)
    assert batches[0]["id"][0].startswith("test_")
    collate = ReferringCollate(TOKENIZER, 8)
    assert collate([dm.test_dataset[0]])["input_ids"].shape == (1, 8)  # type: ignore[index]  # a map-style dataset, indexable


def test_open_dataset_errors() -> None:
    with pytest.raises(UsageError, match="needs --root"):
        open_dataset("risbench", None, "test")
    with pytest.raises(UsageError, match="unknown dataset"):
        open_dataset("coco", "/tmp", "test")
    with pytest.raises(UsageError, match="probability"):
        _synthetic(hflip=1.5)
    dm = SyntheticDataModule(train_size=2, chip_size=32)
    with pytest.raises(UsageError, match="no tokenizer"):
        dm.setup("fit")


def test_synthetic_metadata_records_the_gsd_the_model_sees() -> None:
    # Chips rendered at 64 px and served at 32 px show each metre at half the pixels.
    dm = SyntheticDataModule(train_size=2, chip_size=64, image_size=32, gsds=[0.5, 1.0, 2.0])
    meta = dm.metadata()
    assert meta["gsd_range_m"] == [1.0, 4.0] and meta["gsd_m"] == 2.0
    assert "resized to 32 px: 1-4 m" in meta["trained_on"]
    same = SyntheticDataModule(train_size=2, chip_size=64, image_size=64, gsds=[0.5, 1.0]).metadata()
    assert same["gsd_range_m"] == [0.5, 1.0] and same["gsd_m"] == 0.75 and "resized" not in same["trained_on"]
