"""Importing geocrobim changes no process state: environment, root and package loggers.

Process-wide settings belong to the entry points that need them (geocrobim/process_settings.py);
a run's warnings reach its result through the run (geocrobim/run_warnings.py). A fresh
interpreter imports the third-party packages first (their own import effects are not ours),
then every geocrobim module one by one, and reports each module that changed something.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geocrobim

PACKAGE = Path(geocrobim.__file__).parent
#: The QGIS plugin's modules import qgis (absent here), all but its QGIS-free runner.
QGIS_ONLY = ("__init__", "algorithm", "plugin", "provider")
THIRD_PARTY = (
    "numpy", "rasterio", "shapely", "pyproj", "click", "yaml", "tqdm", "PIL", "psutil", "torch", "timm",
    "transformers", "safetensors", "lightning", "torchmetrics", "torchgeo", "geopandas", "pyogrio", "pyarrow",
)

PROBE = """
import importlib, json, logging, os, sys
from geocrobim.compat import ensure_torchvision_importable
ensure_torchvision_importable()  # the entry points' first step (tests/conftest.py does it too)
for name in THIRD_PARTY:
    try:
        importlib.import_module(name)
    except ImportError:
        pass

def state():
    package = logging.getLogger("geocrobim")
    root = logging.getLogger()
    return {
        "environ": dict(os.environ),
        "root": [root.level, [repr(h) for h in root.handlers]],
        "package": [package.level, package.propagate, package.disabled, [repr(h) for h in package.handlers]],
        "submodule_handlers": sorted(
            name for name, logger in logging.root.manager.loggerDict.items()
            if name.startswith("geocrobim.") and isinstance(logger, logging.Logger) and logger.handlers
        ),
    }

changed = {}
for module in MODULES:
    before = state()
    importlib.import_module(module)
    after = state()
    diff = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if "environ" in diff:
        b, a = diff["environ"]
        diff["environ"] = {k: [b.get(k), a.get(k)] for k in set(b) | set(a) if b.get(k) != a.get(k)}
    if diff:
        changed[module] = diff
print(json.dumps(changed, default=str))
"""


def geocrobim_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "geocrobim_qgis" in parts and parts[-1] in QGIS_ONLY:
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_no_module_changes_process_state_on_import() -> None:
    modules = geocrobim_modules()
    assert len(modules) > 100 and "geocrobim.cli.main" in modules and "geocrobim.training.task" in modules
    code = f"THIRD_PARTY = {THIRD_PARTY!r}\nMODULES = {modules!r}\n{PROBE}"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {}
