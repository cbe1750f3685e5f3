"""The Processing provider in real QGIS: installed by the CLI, enabled, run by qgis_process.

The algorithm runs the real ``geocrobim segment`` of this environment (found through the
hint file that ``geocrobim qgis-plugin --install`` writes) on a small synthetic scene with a
tiny random-weight test checkpoint: the masks and polygons it makes are meaningless, but
every file, CRS and style is real.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from qgis_helpers import requires_qgis

from geocrobim.cli.main import cli

pytestmark = [
    *requires_qgis,
    pytest.mark.skipif(
        importlib.util.find_spec("geocrobim.cli.segment") is None or importlib.util.find_spec("geocrobim.models.testing") is None,
        reason="geocrobim segment or the test checkpoint maker is not there yet",
    ),
]

ALGORITHM = "geocrobim:referringsegmentation"


@pytest.fixture
def profile(qgis_env: dict[str, str]) -> Path:
    """QGIS's default profile under the test HOME, with the plugin installed and enabled."""
    profile = Path(qgis_env["HOME"]) / ".local/share/QGIS/QGIS3/profiles/default"
    result = CliRunner().invoke(cli, ["qgis-plugin", "--install", "--profile-dir", str(profile), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["installed"] == str(profile / "python/plugins/geocrobim_qgis")
    return profile


@pytest.fixture
def scene(tmp_path: Path) -> dict[str, Path]:
    from geocrobim.models.testing import make_test_checkpoint

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (3, 96, 128), dtype=np.uint8)
    image[:, 30:60, 40:90] = [[[200]], [[40]], [[40]]]  # a red block
    path = tmp_path / "scene.tif"
    profile = {"driver": "GTiff", "width": 128, "height": 96, "count": 3, "dtype": "uint8",
               "crs": "EPSG:32633", "transform": Affine(0.5, 0, 500_000, 0, -0.5, 5_000_000)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(image)
    return {"raster": path, "checkpoint": make_test_checkpoint(tmp_path / "ckpt")}


def test_enabled_plugin_lists_the_algorithm(profile, qgis_process) -> None:
    enable = qgis_process("plugins", "enable", "geocrobim_qgis")
    assert enable.returncode == 0, enable.stderr
    listing = qgis_process("list")
    assert ALGORITHM in listing.stdout
    help_text = qgis_process("help", ALGORITHM)
    for parameter in ("INPUT", "EXPRESSIONS", "CHECKPOINT", "DEVICE", "FORMAT", "GEOCROBIM_EXE", "OUTPUT_FOLDER"):
        assert parameter in help_text.stdout


def test_qgis_process_runs_the_algorithm_and_outputs_open_styled(profile, qgis_process, pyqgis, scene, tmp_path) -> None:
    assert qgis_process("plugins", "enable", "geocrobim_qgis").returncode == 0
    out = tmp_path / "out"
    run = qgis_process(
        "--json", "run", ALGORITHM, "--",
        f"INPUT={scene['raster']}", "EXPRESSIONS=the red block\nthe dark corner",
        f"CHECKPOINT={scene['checkpoint']}", "DEVICE=1", "FORMAT=0", f"OUTPUT_FOLDER={out}",
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    results = json.loads(run.stdout)["results"]
    summary = json.loads(results["SUMMARY"])
    assert [e["expression"] for e in summary["expressions"]] == ["the red block", "the dark corner"]
    assert len(results["MASKS"]) == len(results["VECTORS"]) == 2
    mask = results["MASKS"][0]
    vector = results["VECTORS"][0]
    assert Path(mask).is_file() and Path(vector.split("|")[0]).is_file()

    info = pyqgis(
        """
raster = QgsRasterLayer(ARGS["mask"], "mask", "gdal")
vector = QgsVectorLayer(ARGS["vector"], "polygons", "ogr")
print(json.dumps([raster.isValid(), raster.crs().authid(), raster.width(), raster.height(), raster.renderer().type(),
                  vector.isValid(), vector.crs().authid(), vector.featureCount(), vector.renderer().type()]))
""",
        mask=mask, vector=vector,
    )
    instances = summary["expressions"][0]["instances"]
    assert info == [True, "EPSG:32633", 128, 96, "paletted", True, "EPSG:32633", instances, "singleSymbol"]


def test_geocrobim_errors_reach_qgis(profile, qgis_process, scene, tmp_path) -> None:
    assert qgis_process("plugins", "enable", "geocrobim_qgis").returncode == 0
    run = qgis_process(
        "run", ALGORITHM, "--", f"INPUT={scene['raster']}", "EXPRESSIONS=the red block",
        f"CHECKPOINT={tmp_path / 'no-such-checkpoint'}", f"OUTPUT_FOLDER={tmp_path / 'out'}",
    )
    assert run.returncode != 0
    assert "geocrobim failed: Error:" in run.stdout + run.stderr
    assert "no-such-checkpoint" in run.stdout + run.stderr
