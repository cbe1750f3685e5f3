"""geocrobim.raster and every module in it import without torch."""

from __future__ import annotations

import subprocess
import sys


def test_no_raster_module_imports_torch():
    code = (
        "import importlib, pkgutil, sys, geocrobim.raster as r\n"
        "for m in pkgutil.iter_modules(r.__path__): importlib.import_module('geocrobim.raster.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'timm', 'transformers')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
