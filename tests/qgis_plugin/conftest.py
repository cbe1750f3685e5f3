"""Real QGIS 3.22, called as a subprocess: PyQGIS in the system Python, and qgis_process.bin.

QGIS's Python bindings live only in Debian's /usr/bin/python3, never in the project's venv,
so every check runs QGIS in a child process (headless: QT_QPA_PLATFORM=offscreen) with a
throw-away HOME, so no user profile is read or written.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from qgis_helpers import QGIS_PROCESS, SYSTEM_PYTHON

_PRELUDE = """
import json, sys
from qgis.core import *
app = QgsApplication([], False)
app.setPrefixPath("/usr", True)
app.initQgis()
ARGS = json.loads(sys.argv[1])
"""


@pytest.fixture
def qgis_env(tmp_path: Path) -> dict[str, str]:
    """Environment for QGIS children: headless, with its own empty HOME (profile)."""
    home = tmp_path / "qgis-home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_RUNTIME_DIR=str(home))
    return env


@pytest.fixture
def pyqgis(qgis_env: dict[str, str], tmp_path: Path) -> Callable[..., Any]:
    """``pyqgis(script, **args)``: run ``script`` in PyQGIS (``ARGS`` holds ``args``), return the
    JSON value it prints with ``print(json.dumps(...))`` as its last line."""

    def run(script: str, **args: Any) -> Any:
        path = tmp_path / "check_qgis.py"
        path.write_text(_PRELUDE + textwrap.dedent(script))
        proc = subprocess.run(
            [SYSTEM_PYTHON, str(path), json.dumps(args)], capture_output=True, text=True, env=qgis_env, timeout=120
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture
def qgis_process(qgis_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``qgis_process(*args, env=None)``: run qgis_process.bin (not Debian's wrapper script, whose
    --noversioncheck option 3.22's binary refuses)."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(QGIS_PROCESS), *args], capture_output=True, text=True, env={**qgis_env, **(env or {})}, timeout=timeout
        )

    return run
