"""Fixtures of the training tests: a tiny RISBench-layout folder and a tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def risbench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``img_rgb/``, ``mask/``, ``output_phrase_{train,test}.txt`` with 64 px synthetic chips."""
    from geocrobim.data.synthetic import write_chips

    root = tmp_path_factory.mktemp("RISBench_dataset")
    write_chips(root, 4, split="train", seed=3, size=64, gsds=(0.5, 1.0), per_scene=2)
    write_chips(root, 5, split="test", seed=3, size=64, gsds=(0.5, 1.0))
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crobim_test checkpoint with random weights and a self-made vocab."""
    from geocrobim.models.testing import make_test_checkpoint

    return make_test_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", seed=1)
