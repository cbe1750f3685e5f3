"""The torchvision shim and the torch-free import guarantee, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def _torchvision_ops_load() -> bool:
    probe = _run(
        "import torch, sys; from geocrobim.compat import _torchvision_c_library as f; p = f();\n"
        "try:\n torch.ops.load_library(p); print('yes')\nexcept Exception: print('no')"
    )
    return probe.stdout.strip() == "yes"


def test_shim_makes_the_torch_stack_importable() -> None:
    result = _run(
        "from geocrobim.compat import ensure_torchvision_importable as e; e();"
        "import torchvision, timm, lightning, torchmetrics; from transformers import BertModel;"
        "from torchgeo.trainers import BaseTask; print('ok')"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_shim_acts_only_when_ops_fail_to_load() -> None:
    result = _run("from geocrobim.compat import ensure_torchvision_importable as e; print(e())")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str(not _torchvision_ops_load())


def test_without_shim_broken_torchvision_fails() -> None:
    if _torchvision_ops_load():
        pytest.skip("torchvision's compiled ops load on this machine; there is nothing to work around")
    result = _run("import torchvision")
    assert result.returncode != 0
    assert "torchvision::nms" in result.stderr


def test_shim_is_idempotent_and_late_calls_are_harmless() -> None:
    result = _run(
        "from geocrobim.compat import ensure_torchvision_importable as e; a = e(); import torchvision; b = e();"
        "print(a == b)"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True"


def test_gis_layers_and_cli_do_not_import_torch() -> None:
    result = _run(
        "import sys, geocrobim, geocrobim.raster, geocrobim.vector, geocrobim.errors, geocrobim.cli.main;"
        # the batch driver reads expression files and plans outputs; the engine loads torch only with a model
        "import geocrobim.inference.expressions, geocrobim.inference.outputs, geocrobim.batch;"
        "from geocrobim.inference import segment_raster;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'timm', 'transformers')))"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
