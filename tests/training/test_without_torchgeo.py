"""Training where torchgeo and rasterio are not installed (e.g. a bare GPU machine).

A subprocess makes both unimportable, then fits the tiny synthetic config through
``python -m geocrobim.training.fit``: the task and datamodule fall back to plain
Lightning bases and the on-the-fly chips need no rasterio.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONF = Path(__file__).parent / "conf" / "synthetic_tiny.yaml"

BLOCK = """
import sys, runpy
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torchgeo', 'rasterio'):
            raise ImportError(f'{name} is blocked for this test')
sys.meta_path.insert(0, Block())
sys.argv = ['geocrobim.training.fit', *sys.argv[1:]]
runpy.run_module('geocrobim.training.fit', run_name='__main__', alter_sys=True)
from geocrobim.training import _base
assert not _base.USING_TORCHGEO and 'rasterio' not in sys.modules and 'torchgeo' not in sys.modules
"""


def test_fit_without_torchgeo_and_rasterio(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", BLOCK, "--config", str(CONF), "trainer.fast_dev_run=true"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "export" / "model.safetensors").is_file()
