"""Fixtures for batch tests: the tiny test checkpoint, a mixed archive, and one reference
run of the whole archive through the CLI (the local, kill/resume and shard tests compare
against it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import DST_CRS, batch_args, invoke, make_archive


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from geocrobim.models.testing import make_test_checkpoint

    return make_test_checkpoint(tmp_path_factory.mktemp("batch-checkpoint") / "crobim_test")


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("batch-archive") / "archive")


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, archive: Path, checkpoint: Path) -> dict[str, Any]:
    """One uninterrupted local run of the archive: ``{"out", "summary", "stderr"}``."""
    out = tmp_path_factory.mktemp("batch-reference") / "out"
    result = invoke(*batch_args(archive, out, checkpoint, "--dst-crs", DST_CRS, "--json"))
    assert result.exit_code == 0, result.output
    return {"out": out, "summary": json.loads(result.stdout), "stderr": result.stderr}
