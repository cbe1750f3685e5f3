"""Synthetic chips: determinism, the one-target guarantee, the on-disk layout, the torch dataset."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from geocrobim.data import RISBench, SyntheticChips, SyntheticReferring
from geocrobim.data.synthetic import ChipGenerator, Grid, render, render_mask, write_chips
from geocrobim.errors import UsageError

GSDS = (0.3, 0.5, 1.0, 2.0)


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_same_seed_same_chip_different_seed_different_chip() -> None:
    a = ChipGenerator(size=128, gsds=GSDS, seed=11).sample(3)
    b = ChipGenerator(size=128, gsds=GSDS, seed=11).sample(3)
    assert digest(a.image, a.mask) == digest(b.image, b.mask)
    assert a.expression == b.expression and a.gsd == b.gsd
    c = ChipGenerator(size=128, gsds=GSDS, seed=12).sample(3)
    d = ChipGenerator(size=128, gsds=GSDS, seed=11, split="val").sample(3)
    assert digest(a.image) != digest(c.image)
    assert digest(a.image) != digest(d.image)


def test_random_access_matches_the_stream() -> None:
    gen = ChipGenerator(size=96, gsds=(1.0,), seed=3, per_scene=2)
    stream = iter(ChipGenerator(size=96, gsds=(1.0,), seed=3, per_scene=2))
    first = [next(stream) for _ in range(4)]
    scenes = gen.scene(0) + gen.scene(1) + gen.scene(2) + gen.scene(3)  # a scene may give fewer than per_scene
    assert [s.expression for s in first] == [s.expression for s in scenes][:4]
    assert digest(first[3].image) == digest(scenes[3].image)


def test_one_target_per_expression() -> None:
    """Over many chips: the mask is the target's, non-empty, and exactly one object satisfies the query."""
    gen = ChipGenerator(size=160, gsds=GSDS, seed=2024, per_scene=3)
    checked, categories = 0, set()
    for index in range(25):
        for s in gen.scene(index):
            assert s.mask.dtype == np.uint8 and s.mask.shape == (160, 160)
            assert s.mask.sum() > 0
            assert set(np.unique(s.mask)) <= {0, 1}
            table = s.table()
            assert s.query.evaluate(table) == [s.target_id], s.expression
            expected = render_mask(s.layout.objects[s.target_id], Grid(0, 0, 160, 160, s.gsd))
            assert np.array_equal(s.mask, expected)
            assert s.expression.strip() and s.layout.objects[s.target_id].category == s.category
            checked += 1
            categories.add(s.category)
    assert checked >= 50
    assert len(categories) >= 6  # the targets span the classes, not one easy kind


def test_distractors_share_the_target_class() -> None:
    """Most targets have at least one other object of their class in view."""
    gen = ChipGenerator(size=160, gsds=GSDS, seed=5)
    with_distractor = 0
    for index in range(20):
        s = gen.sample(index)
        t = s.table()
        with_distractor += int(np.sum(t.category == s.category) >= 2)
    assert with_distractor >= 12


def test_chips_render_like_their_scene_window() -> None:
    """A chip is its layout's render, and textures come from the world, not from the window."""
    s = ChipGenerator(size=96, gsds=(0.5,), seed=8).sample(0)
    assert np.array_equal(s.image, render(s.layout, Grid(0, 0, 96, 96, 0.5)))
    s.layout.grading = dataclasses.replace(s.layout.grading, noise=0.0)  # sensor noise is drawn per window
    whole = render(s.layout, Grid(0, 0, 96, 96, 0.5)).astype(int)
    for col, row in ((0, 0), (32, 32), (20, 7)):
        part = render(s.layout, Grid(col, row, 64, 64, 0.5)).astype(int)
        diff = np.abs(part - whole[row : row + 64, col : col + 64])
        assert diff.max() <= 8 and diff.mean() < 0.5


def test_write_chips_layout_is_risbench_and_deterministic(tmp_path: Path) -> None:
    out1, out2 = tmp_path / "a", tmp_path / "b"
    write_chips(out1, 5, split="val", seed=4, size=96, gsds=(0.5, 2.0), per_scene=2)
    write_chips(out2, 5, split="val", seed=4, size=96, gsds=(0.5, 2.0), per_scene=2)
    lines = (out1 / "output_phrase_val.txt").read_text().splitlines()
    assert len(lines) == 5
    names = [line.split(" ", 1)[0] for line in lines]
    assert names[0] == "val_0_0.png" and all(n.startswith("val_") for n in names)
    assert sorted(p.name for p in (out1 / "img_rgb").iterdir()) == sorted(names)
    for name in names:
        for sub in ("img_rgb", "mask"):
            assert (out1 / sub / name).read_bytes() == (out2 / sub / name).read_bytes()
    assert (out1 / "output_phrase_val.txt").read_bytes() == (out2 / "output_phrase_val.txt").read_bytes()

    ds = RISBench(out1, "val")
    assert len(ds) == 5
    sample = ds[0]
    assert sample["image"].shape == (3, 96, 96) and sample["mask"].shape == (96, 96)
    assert set(sample["mask"].unique().tolist()) == {0, 1}
    assert sample["expression"] == lines[0].split(" ", 1)[1]
    chip = ChipGenerator(size=96, gsds=(0.5, 2.0), seed=4, split="val", per_scene=2).sample(0)
    assert np.array_equal(sample["mask"].numpy(), chip.mask)
    assert np.array_equal(sample["image"].numpy().transpose(1, 2, 0), chip.image)
    assert len(SyntheticChips(out1, "val", image_size=48)) == 5


def test_synthetic_dataset_on_the_fly() -> None:
    ds = SyntheticReferring(6, seed=9, size=96, gsds=(1.0,), image_size=64)
    a, b = ds[2], SyntheticReferring(6, seed=9, size=96, gsds=(1.0,), image_size=64)[2]
    assert a["image"].shape == (3, 64, 64) and a["image"].dtype.is_floating_point is False
    assert a["mask"].dtype.is_floating_point is False and a["mask"].shape == (64, 64)
    assert a["expression"] == b["expression"] and bool((a["image"] == b["image"]).all())
    ds.set_epoch(1)
    assert ds[2]["id"] != a["id"]
    with pytest.raises(IndexError):
        ds[6]


def test_style_weights_change_what_the_expressions_say_and_stay_true() -> None:
    """Weight 0 drops a style; ranks only: every sentence ranks, and still names its one target."""
    from geocrobim.data.synthetic.referents import STYLES

    ranks_only = {style: 0.0 for style in STYLES} | {"superlative": 1.0, "ordinal": 1.0}
    plain = ChipGenerator(size=160, gsds=(0.5, 1.0), seed=5, per_scene=3)
    ranked = ChipGenerator(size=160, gsds=(0.5, 1.0), seed=5, per_scene=3, styles=ranks_only)
    said = {"plain": 0, "ranked": 0}
    for index in range(12):
        for name, gen in (("plain", plain), ("ranked", ranked)):
            for s in gen.scene(index):
                assert s.query.evaluate(s.table()) == [s.target_id], s.expression
                said[name] += 1
                if name == "ranked":
                    assert s.query.ordinal is not None and s.query.locator is None, s.expression
    assert said["ranked"] >= 6 and said["plain"] >= 12
    # The default weights are the defaults: the same stream as no override at all.
    same = ChipGenerator(size=160, gsds=(0.5, 1.0), seed=5, per_scene=3, styles={"ordinal": STYLES["ordinal"]})
    assert [s.expression for s in same.scene(0)] == [s.expression for s in plain.scene(0)]


def test_every_sentences_mask_all_the_objects_they_name() -> None:
    """Style "every": the sentence names two or more objects, and the mask is exactly their union."""
    from geocrobim.data.synthetic.referents import STYLES

    every = ChipGenerator(size=160, gsds=(0.5, 1.0), seed=5, per_scene=2, styles=dict.fromkeys(STYLES, 0.0) | {"every": 1.0})
    seen = 0
    for index in range(10):
        for s in every.scene(index):
            assert s.query.every and len(s.members) >= 2 and s.target_id in s.members, s.expression
            assert sorted(s.query.evaluate(s.table())) == sorted(s.members), s.expression
            assert s.expression.split()[0].lower() in ("every", "each", "all"), s.expression
            grid = Grid(0, 0, 160, 160, s.gsd)
            union = np.zeros((160, 160), np.uint8)
            for i in s.members:
                union |= render_mask(s.layout.objects[i], grid)
            assert np.array_equal(s.mask, union) and s.mask.sum() > render_mask(s.layout.objects[s.target_id], grid).sum()
            seen += 1
    assert seen >= 8
    # off by default: held-out splits name one object each
    assert STYLES["every"] == 0.0
    assert all(not s.members for i in range(5) for s in ChipGenerator(size=160, seed=5, per_scene=2).scene(i))


@pytest.mark.parametrize(
    ("styles", "message"),
    [({"ordinals": 1.0}, "unknown expression style 'ordinals'"), ({"ordinal": -1.0}, "ordinal=-1.0"),
     ({"ordinal": float("nan")}, "ordinal=nan"), (dict.fromkeys(("category", "attribute", "region", "river", "water",
     "direction", "next_to", "between", "across", "superlative", "ordinal"), 0.0), "at least one a positive")],
)  # fmt: skip
def test_bad_style_weights_name_the_style(styles: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ChipGenerator(styles=styles)


def test_bad_generator_settings() -> None:
    with pytest.raises(UsageError):
        ChipGenerator(split="training")
    with pytest.raises(UsageError):
        ChipGenerator(gsds=(0.0,))
