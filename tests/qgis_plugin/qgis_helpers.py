"""Constants shared by the QGIS tests (importable from test modules, unlike conftest)."""

from __future__ import annotations

import shutil

import pytest

QGIS_PROCESS = shutil.which("qgis_process.bin")
SYSTEM_PYTHON = "/usr/bin/python3"

#: Marks a module as needing QGIS; it is skipped where QGIS is not installed.
requires_qgis = [
    pytest.mark.qgis,
    pytest.mark.skipif(QGIS_PROCESS is None, reason="QGIS 3.22 (qgis_process.bin) is not installed"),
]
