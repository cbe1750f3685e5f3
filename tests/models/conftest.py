"""Fixtures for the model tests: tiny seeded models, tokenizers and checkpoints (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geocrobim.models import CroBIM, TextTokenizer
from geocrobim.models.testing import make_test_checkpoint, make_test_model, make_test_tokenizer

EXPRESSIONS = ["the red-roofed warehouse north of the river", "a small ship", "the tennis court on the left"]


@pytest.fixture(scope="session")
def tokenizer() -> TextTokenizer:
    return make_test_tokenizer()


@pytest.fixture()
def model(tokenizer: TextTokenizer) -> CroBIM:
    return make_test_model("crobim_test", seed=0, vocab_size=tokenizer.vocab_size)


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", metadata={"gsd_m": 0.5})



@pytest.fixture(scope="session")
def expressions() -> list[str]:
    return list(EXPRESSIONS)
