"""Checkpoints: save/load identity, pickle refusal, mismatch messages, the default checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from geocrobim.errors import CheckpointError, InputNotFoundError
from geocrobim.models import checkpoint as checkpoint_module
from geocrobim.models import load_checkpoint, save_checkpoint
from geocrobim.models.testing import make_test_checkpoint, make_test_model, make_test_tokenizer


def _outputs(model: torch.nn.Module, tokenizer, texts: list[str]) -> torch.Tensor:
    images = torch.randn(len(texts), 3, 64, 64, generator=torch.Generator().manual_seed(3))
    ids, mask = tokenizer(texts, model.config.max_tokens)
    with torch.no_grad():
        return model.eval()(images, ids, mask)


def test_checkpoint_layout(checkpoint_dir: Path) -> None:
    names = {p.relative_to(checkpoint_dir).as_posix() for p in checkpoint_dir.rglob("*") if p.is_file()}
    assert {"config.json", "model.safetensors", "metadata.json", "tokenizer/vocab.txt", "tokenizer/tokenizer.json"} <= names
    assert json.loads((checkpoint_dir / "metadata.json").read_text())["gsd_m"] == 0.5


def test_save_then_load_gives_identical_outputs(tmp_path: Path, expressions: list[str]) -> None:
    tokenizer = make_test_tokenizer()
    model = make_test_model(seed=5, vocab_size=tokenizer.vocab_size, num_classes=1)
    with torch.no_grad():  # make sure non-default values survive, not just the init
        model.lgfa.gamma.fill_(0.25)
    before = _outputs(model, tokenizer, expressions)
    save_checkpoint(model, tokenizer, tmp_path / "ck", metadata={"model_id": "m1"})
    ckpt = load_checkpoint(tmp_path / "ck")
    after = _outputs(ckpt.model, ckpt.tokenizer, expressions)
    assert torch.equal(before, after)
    assert ckpt.config == model.config and ckpt.metadata == {"model_id": "m1"}
    assert not ckpt.model.training


def test_fp16_checkpoint_is_half_size_and_close(tmp_path: Path, expressions: list[str]) -> None:
    tokenizer = make_test_tokenizer()
    model = make_test_model(vocab_size=tokenizer.vocab_size)
    save_checkpoint(model, tokenizer, tmp_path / "fp32")
    save_checkpoint(model, tokenizer, tmp_path / "fp16", dtype=torch.float16)
    size32 = (tmp_path / "fp32" / "model.safetensors").stat().st_size
    size16 = (tmp_path / "fp16" / "model.safetensors").stat().st_size
    assert size16 < 0.55 * size32
    loaded = load_checkpoint(tmp_path / "fp16").model
    assert next(loaded.parameters()).dtype == torch.float32
    assert torch.allclose(_outputs(model, tokenizer, expressions), _outputs(loaded, tokenizer, expressions), atol=0.05)


def test_loading_a_file_inside_the_directory_works(checkpoint_dir: Path) -> None:
    assert load_checkpoint(checkpoint_dir / "model.safetensors").path == checkpoint_dir


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_pickle_disguised_as_safetensors_is_refused(checkpoint_dir: Path, tmp_path: Path) -> None:
    ck = _copy(checkpoint_dir, tmp_path / "ck")
    model = make_test_model(vocab_size=make_test_tokenizer().vocab_size)
    torch.save(model.state_dict(), ck / "model.safetensors")  # a real zip-pickle under the safe name
    with pytest.raises(CheckpointError, match="carries a pickle.*convert it to safetensors"):
        load_checkpoint(ck)


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.ckpt", "weights.pt"])
def test_pickle_files_anywhere_in_the_directory_are_refused(checkpoint_dir: Path, tmp_path: Path, name: str) -> None:
    ck = _copy(checkpoint_dir, tmp_path / "ck")
    torch.save({"x": torch.zeros(2)}, ck / name)
    with pytest.raises(CheckpointError, match="carries a pickle"):
        load_checkpoint(ck)


def test_legacy_pickle_protocol_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    torch.save({"x": torch.zeros(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="carries a pickle"):
        load_checkpoint(path)


def test_pickle_file_path_is_refused_directly(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="carries a pickle"):
        load_checkpoint(path)


def test_mismatched_config_names_the_keys(checkpoint_dir: Path, tmp_path: Path) -> None:
    ck = _copy(checkpoint_dir, tmp_path / "ck")
    config = json.loads((ck / "config.json").read_text())
    config["lgfa"]["width"] = 48  # every LGFA/MID tensor changes shape
    config["mid"]["num_layers"] = 2  # a second MID layer the weights do not have
    (ck / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(ck)
    message = str(info.value)
    assert "missing keys: mid.layers.1." in message
    assert "shape-mismatched keys:" in message and "(32," in message and "vs model (48," in message


def test_unexpected_keys_are_named(checkpoint_dir: Path, tmp_path: Path) -> None:
    ck = _copy(checkpoint_dir, tmp_path / "ck")
    config = json.loads((ck / "config.json").read_text())
    config["lgfa"]["deficit_mode"] = "no_word_token"  # drops gamma/compensate, adds null words
    (ck / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"missing keys: .*null_key.*unexpected keys: .*lgfa.compensate"):
        load_checkpoint(ck)


def test_corrupt_and_incomplete_checkpoints(checkpoint_dir: Path, tmp_path: Path) -> None:
    ck = _copy(checkpoint_dir, tmp_path / "ck")
    (ck / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(ck)
    ck2 = _copy(checkpoint_dir, tmp_path / "ck2")
    (ck2 / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(ck2)
    ck3 = _copy(checkpoint_dir, tmp_path / "ck3")
    (ck3 / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="lacks model.safetensors"):
        load_checkpoint(ck3)


def test_missing_path_and_missing_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputNotFoundError, match="nope"):
        load_checkpoint(tmp_path / "nope")
    monkeypatch.setattr(checkpoint_module, "DEFAULT_CHECKPOINT_DIR", tmp_path / "weights" / "default")
    with pytest.raises(CheckpointError, match="no default model is shipped.*--checkpoint"):
        load_checkpoint("default")


def test_default_resolves_to_the_package_folder(checkpoint_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = _copy(checkpoint_dir, tmp_path / "weights" / "default")
    monkeypatch.setattr(checkpoint_module, "DEFAULT_CHECKPOINT_DIR", default)
    assert load_checkpoint("default").path == default


def test_tokenizer_larger_than_embedding_is_refused(tmp_path: Path) -> None:
    tokenizer = make_test_tokenizer()
    model = make_test_model(vocab_size=tokenizer.vocab_size - 10)
    with pytest.raises(CheckpointError, match="vocab_size"):
        save_checkpoint(model, tokenizer, tmp_path / "ck")


def test_make_test_checkpoint_is_seeded(tmp_path: Path) -> None:
    a = make_test_checkpoint(tmp_path / "a", seed=1)
    b = make_test_checkpoint(tmp_path / "b", seed=1)
    c = make_test_checkpoint(tmp_path / "c", seed=2)
    sa, sb, sc = (load_file(str(p / "model.safetensors")) for p in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
