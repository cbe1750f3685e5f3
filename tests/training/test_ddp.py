"""Two CPU processes (gloo) train two steps with DDP from the same config.

The run also uses the plain-Lightning base classes (``GEOCROBIM_NO_TORCHGEO=1``), the
path of training machines without torchgeo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from geocrobim.models import load_checkpoint

CONF = Path(__file__).parent / "conf" / "synthetic_tiny.yaml"


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    env = {**os.environ, "GEOCROBIM_NO_TORCHGEO": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "geocrobim.training.fit", "--config", str(CONF),
        "trainer.strategy=ddp", "trainer.devices=2", "trainer.max_steps=2", "--data.init_args.train_size=8",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "torchgeo unavailable" not in proc.stderr  # forced off, not missing
    ckpt = load_checkpoint(tmp_path / "export")
    training = ckpt.metadata["training"]
    assert training["world_size"] == 2 and training["global_step"] == 2
    # 8 samples over 2 ranks with batch 2: 2 steps are one epoch on each rank.
    assert json.loads((tmp_path / "export" / "metadata.json").read_text())["training"]["epochs"] == 1
