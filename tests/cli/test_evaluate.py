"""``geocrobim evaluate`` on a tiny RISBench-layout folder with a tiny checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from geocrobim.cli.main import cli
from geocrobim.training.metrics import COLUMNS, summarize


@pytest.fixture(scope="module")
def risbench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five 64 px test chips written in RISBench's layout (img_rgb/, mask/, output_phrase_test.txt)."""
    from geocrobim.data.synthetic import write_chips

    root = tmp_path_factory.mktemp("RISBench_dataset")
    write_chips(root, 5, split="test", seed=3, size=64, gsds=(0.5, 1.0))
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from geocrobim.models.testing import make_test_checkpoint

    return make_test_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", seed=1)


def _independent_counts(
    checkpoint: Path, root: Path, size: int, tta: bool = False, best: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair I and U through the inference API (Predictor, or its FlipEnsemble), pair by pair.

    ``best``: keep only the likeliest connected component of each mask, as ``segment`` does.
    """
    from geocrobim.data import RISBench
    from geocrobim.inference.instances import best_component
    from geocrobim.models import FlipEnsemble, Predictor

    plain = Predictor.from_checkpoint(checkpoint, device="cpu", precision="fp32")
    predictor = FlipEnsemble(plain) if tta else plain
    inter, union = [], []
    for sample in RISBench(root, "test", image_size=size):
        text = predictor.encode_text([sample["expression"]])
        prob = predictor.predict(sample["image"].numpy()[None], text)[0, 0]
        pred, gt = best_component(prob) if best else prob > 0.5, sample["mask"].numpy() > 0
        inter.append(int((pred & gt).sum()))
        union.append(int((pred | gt).sum()))
    return np.array(inter), np.array(union)


def test_evaluate_prints_columns_and_writes_json(checkpoint: Path, risbench_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "result" / "risbench.json"
    result = CliRunner().invoke(
        cli,
        ["-q", "evaluate", "--checkpoint", str(checkpoint), "--dataset", "risbench", "--root", str(risbench_root),
         "--split", "test", "--image-size", "96", "--batch-size", "2", "--json-out", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header, values = result.output.strip().splitlines()[-2:]
    assert header.split() == [*COLUMNS, "pairs"]
    data = json.loads(out.read_text())
    assert data["pairs"] == 5 and data["split"] == "test" and data["image_size"] == 96
    assert data["model_id"] == "crobim_test-test-seed1" and data["dataset"] == "risbench"
    printed = [float(v) for v in values.split()]
    assert printed[:-1] == pytest.approx([100 * data["metrics"][c] for c in COLUMNS], abs=0.006)
    # Same numbers as an independent pass through the inference API at the same size.
    expected = summarize(*_independent_counts(checkpoint, risbench_root, 96))
    for column in COLUMNS:
        assert data["metrics"][column] == pytest.approx(expected[column], abs=0.02), column


def test_evaluate_tta_scores_the_engines_flip_ensemble(checkpoint: Path, risbench_root: Path, tmp_path: Path) -> None:
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(checkpoint, ckpt)
    args = ["-q", "evaluate", "--checkpoint", str(ckpt), "--dataset", "risbench", "--root", str(risbench_root),
            "--image-size", "64", "--json", "--record"]  # fmt: skip
    plain = json.loads(CliRunner().invoke(cli, args, catch_exceptions=False).stdout)
    result = CliRunner().invoke(cli, [*args, "--tta"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tta"] is True and plain["tta"] is False
    expected = summarize(*_independent_counts(ckpt, risbench_root, 64, tta=True))
    for column in COLUMNS:
        assert data["metrics"][column] == pytest.approx(expected[column], abs=1e-6), column
    assert data["metrics"] != plain["metrics"]
    meta = json.loads((ckpt / "metadata.json").read_text())["metrics"]
    assert meta["risbench/test/tta"]["oIoU"] == pytest.approx(data["metrics"]["oIoU"], abs=1e-6)
    assert meta["risbench/test"]["oIoU"] == pytest.approx(plain["metrics"]["oIoU"], abs=1e-6)


def test_evaluate_instances_best_scores_the_component_segment_keeps(
    checkpoint: Path, risbench_root: Path, tmp_path: Path
) -> None:
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(checkpoint, ckpt)
    args = ["-q", "evaluate", "--checkpoint", str(ckpt), "--dataset", "risbench", "--root", str(risbench_root),
            "--image-size", "64", "--json", "--record"]  # fmt: skip
    result = CliRunner().invoke(cli, [*args, "--instances", "best"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["instances"] == "best"
    inter, union = _independent_counts(ckpt, risbench_root, 64, best=True)
    expected = summarize(inter, union)
    for column in COLUMNS:
        assert data["metrics"][column] == pytest.approx(expected[column], abs=1e-6), column
    # The untrained model lights several pieces, so keeping one must change the score.
    all_inter, all_union = _independent_counts(ckpt, risbench_root, 64)
    assert np.all(inter <= all_inter) and np.all(union <= all_union) and union.sum() < all_union.sum()
    meta = json.loads((ckpt / "metadata.json").read_text())["metrics"]
    assert meta["risbench/test/best"]["oIoU"] == pytest.approx(data["metrics"]["oIoU"], abs=1e-6)
    assert "risbench/test" not in meta
    bad = CliRunner().invoke(cli, [*args, "--instances", "some"])
    assert bad.exit_code == 2 and "--instances" in bad.output


def test_evaluate_scene_words_reads_ranks_and_regions_as_segment_does(
    checkpoint: Path, risbench_root: Path, tmp_path: Path
) -> None:
    """Ranked sentences are asked as "every ..." and picked by the engine's rule; others stay whole."""
    import shutil

    from geocrobim.data import RISBench
    from geocrobim.inference.instances import chip_scene_wide
    from geocrobim.inference.scene_words import read_scene_words
    from geocrobim.models import Predictor

    root = tmp_path / "ranked"
    shutil.copytree(risbench_root, root)
    sentences = ["the largest warehouse", "the second house from the left", "the red car", "the pond on the left", "the northernmost ship"]
    names = [line.split(" ", 1)[0] for line in (root / "output_phrase_test.txt").read_text().splitlines()]
    (root / "output_phrase_test.txt").write_text("".join(f"{n} {t}\n" for n, t in zip(names, sentences, strict=True)))
    ckpt = tmp_path / "ckpt"
    shutil.copytree(checkpoint, ckpt)
    args = ["-q", "evaluate", "--checkpoint", str(ckpt), "--dataset", "risbench", "--root", str(root),
            "--image-size", "64", "--json", "--record"]  # fmt: skip
    result = CliRunner().invoke(cli, [*args, "--scene-words"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scene_words"] is True and data["instances"] == "all"
    predictor = Predictor.from_checkpoint(ckpt, device="cpu", precision="fp32")
    inter, union, asked = [], [], []
    for sample in RISBench(root, "test", image_size=64):
        words = read_scene_words(sample["expression"], banks=False)
        asked.append(words.model_text)
        prob = predictor.predict(sample["image"].numpy()[None], predictor.encode_text([words.model_text]))[0, 0]
        pred = chip_scene_wide(prob, words) if words.scene_wide else prob > 0.5
        gt = sample["mask"].numpy() > 0
        inter.append(int((pred & gt).sum()))
        union.append(int((pred | gt).sum()))
    assert asked == ["every warehouse", "every house", "the red car", "every pond", "every ship"]
    expected = summarize(np.array(inter), np.array(union))
    for column in COLUMNS:
        assert data["metrics"][column] == pytest.approx(expected[column], abs=1e-6), column
    meta = json.loads((ckpt / "metadata.json").read_text())["metrics"]
    assert meta["risbench/test/words"]["mIoU"] == pytest.approx(data["metrics"]["mIoU"], abs=1e-6)


def test_evaluate_record_json_flag_and_json_out(checkpoint: Path, risbench_root: Path, tmp_path: Path) -> None:
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(checkpoint, ckpt)
    result = CliRunner().invoke(
        cli,
        ["-q", "evaluate", "--checkpoint", str(ckpt), "--dataset", "synthetic", "--root", str(risbench_root),
         "--image-size", "64", "--limit", "3", "--json", "--json-out", str(tmp_path / "copy.json"), "--record"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # --json: a flag, like segment's; the JSON alone on stdout
    assert json.loads((tmp_path / "copy.json").read_text()) == data
    assert data["pairs"] == 3
    meta = json.loads((ckpt / "metadata.json").read_text())
    assert meta["metrics"]["synthetic/test"]["pairs"] == 3
    assert meta["metrics"]["synthetic/test"]["oIoU"] == pytest.approx(data["metrics"]["oIoU"], abs=1e-6)


def test_evaluate_errors(checkpoint: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    no_root = runner.invoke(cli, ["evaluate", "--checkpoint", str(checkpoint), "--dataset", "risbench"])
    assert no_root.exit_code == 2 and "--root" in no_root.output
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["evaluate", "--checkpoint", str(checkpoint), "--dataset", "risbench", "--root", str(empty)]
    bad = runner.invoke(cli, args)
    assert bad.exit_code == 1 and bad.output.startswith("Error:") and "img_rgb" in bad.output
    gone = runner.invoke(cli, ["evaluate", "--checkpoint", str(tmp_path / "nope"), "--dataset", "synthetic"])
    assert gone.exit_code == 1 and "not found" in gone.output
    misused = runner.invoke(cli, [*args, "--samples", "4"])
    assert misused.exit_code == 2 and "--samples" in misused.output


def test_unwritable_json_out_fails_before_evaluating(checkpoint: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli, ["evaluate", "--checkpoint", str(checkpoint), "--dataset", "synthetic",
                                      "--samples", "2", "--json-out", str(blocker / "result.json")])
    assert result.exit_code == 1 and result.stderr.startswith("Error:") and "evaluate:" not in result.stderr
    assert "output folder" in result.stderr and result.stdout == ""
