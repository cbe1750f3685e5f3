"""The plugin's QGIS-free half: finding geocrobim, progress, errors, cancel; install and zip.

These run without QGIS: the runner drives real ``geocrobim`` commands of this environment.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from tqdm import tqdm

import geocrobim
from geocrobim.choices import DEVICES, VECTOR_FORMATS
from geocrobim.cli.main import cli
from geocrobim.qgis_plugin import PLUGIN_NAME, install_plugin, plugin_source, zip_plugin
from geocrobim.qgis_plugin.geocrobim_qgis import runner

GEOCROBIM = shutil.which("geocrobim", path=str(Path(sys.executable).parent)) or shutil.which("geocrobim")


@pytest.fixture
def mask(tmp_path: Path) -> Path:
    data = np.zeros((3000, 200), np.uint8)
    data[100:200, 50:150] = 1
    path = tmp_path / "mask.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=200, height=3000, count=1, dtype="uint8", crs="EPSG:32633",
        transform=Affine(0.5, 0, 500_000, 0, -0.5, 5_000_000), tiled=True, blockxsize=256, blockysize=256,
    ) as dst:
        dst.write(data, 1)
    return path


def test_find_executable_order_and_errors(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(runner.ENV_VAR, raising=False)
    monkeypatch.setattr(runner, "HINT_FILE", tmp_path / "hint.txt")
    assert runner.find_executable(GEOCROBIM) == GEOCROBIM
    monkeypatch.setenv(runner.ENV_VAR, GEOCROBIM)
    assert runner.find_executable(None, "/ignored/because/env/wins") == GEOCROBIM
    with pytest.raises(runner.RunError, match="does not exist.*GEOCROBIM_EXE"):
        runner.find_executable(str(tmp_path / "nope"))
    monkeypatch.delenv(runner.ENV_VAR)
    (tmp_path / "hint.txt").write_text(GEOCROBIM)
    assert runner.find_executable() == GEOCROBIM
    (tmp_path / "hint.txt").unlink()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(runner.RunError, match="not found.*pip install geocrobim"):
        runner.find_executable()


def test_build_command_and_clean_environment() -> None:
    command = runner.build_command("geocrobim", "/d/scene.tif", ["the pond ", "", "the road"], "/out", "ckpt", "cpu", "fgb")
    assert command == [
        "geocrobim", "segment", "/d/scene.tif", "the pond", "the road", "-o", "/out", "--checkpoint", "ckpt",
        "--device", "cpu", "--format", "fgb", "--overwrite", "--json",
    ]
    with pytest.raises(runner.RunError, match="at least one expression"):
        runner.build_command("geocrobim", "a.tif", ["  "], "/out")
    env = runner.clean_environment({"PYTHONPATH": "/usr/share/qgis/python", "PYTHONHOME": "/usr", "PATH": "/bin"})
    assert env["PATH"] == "/bin" and "PYTHONPATH" not in env and "PYTHONHOME" not in env


def test_progress_parser_reads_real_tqdm_output() -> None:
    stream = io.StringIO()
    bar = tqdm(total=8, desc="segment", unit="window", file=stream, mininterval=0)
    for _ in range(8):
        bar.update(1)
    bar.close()
    parser = runner.ProgressParser()
    text = stream.getvalue() + "geocrobim: WARNING: scene has no CRS\n"
    percents, messages = parser.feed(text[:15])
    more, messages2 = parser.feed(text[15:])
    percents += more
    assert percents[-1] == 100.0 and percents == sorted(percents) and 50.0 in percents
    assert messages + messages2 == ["geocrobim: WARNING: scene has no CRS"]


def test_run_returns_the_json_summary_and_reports_progress(mask, tmp_path) -> None:
    seen: list[float] = []
    summary = runner.run([GEOCROBIM, "vectorize", str(mask), "-o", str(tmp_path / "o.gpkg"), "--json"], on_progress=seen.append)
    assert summary["features"] == 1 and summary["crs"] == "EPSG:32633"
    assert seen and seen[-1] == 100.0


def test_run_raises_the_error_line(tmp_path) -> None:
    with pytest.raises(runner.RunError, match="geocrobim failed: Error: input raster not found: .*missing.tif"):
        runner.run([GEOCROBIM, "vectorize", str(tmp_path / "missing.tif"), "--json"])


def test_cancel_stops_the_child(mask, tmp_path, monkeypatch) -> None:
    # A real, slow geocrobim command: segment imports torch (> 1 s) before it even reads the scene.
    pytest.importorskip("geocrobim.cli.segment")
    started = time.monotonic()
    pids: list[int] = []

    def cancel_soon() -> bool:
        return time.monotonic() - started > 0.3

    popen = runner.subprocess.Popen

    def recording_popen(*args, **kwargs):
        proc = popen(*args, **kwargs)
        pids.append(proc.pid)
        return proc

    monkeypatch.setattr(runner.subprocess, "Popen", recording_popen)
    with pytest.raises(runner.Canceled):
        runner.run([GEOCROBIM, "segment", str(mask), "the pond", "-o", str(tmp_path), "--json"], is_canceled=cancel_soon)
    assert time.monotonic() - started < 8
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # reaped: no such process


def test_outputs_of_reads_the_segment_summary() -> None:
    summary = {"expressions": [{"expression": "a", "outputs": {"mask": "/o/a.mask.tif", "vector": "/o/a.gpkg", "probabilities": None}}]}
    assert runner.outputs_of(summary) == [("a", "/o/a.mask.tif", "/o/a.gpkg", None)]


def test_install_copies_the_plugin_and_records_the_executable(tmp_path) -> None:
    target = install_plugin(tmp_path / "profile")
    assert target == tmp_path / "profile" / "python" / "plugins" / PLUGIN_NAME
    names = {p.name for p in target.iterdir()}
    assert {"__init__.py", "metadata.txt", "plugin.py", "provider.py", "algorithm.py", "runner.py", "choices.py"} <= names
    assert "__pycache__" not in names
    assert Path((target / "geocrobim_exe.txt").read_text()).name == "geocrobim"
    # The installed runner reads the choices from its own copy, in a Python without geocrobim (-I: no path hooks).
    code = (
        "import importlib.util, sys; spec = importlib.util.spec_from_file_location('r', sys.argv[1]); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); print(','.join(m.FORMATS), ','.join(m.DEVICES))"
    )
    shown = subprocess.run([sys.executable, "-I", "-c", code, str(target / "runner.py")], capture_output=True, text=True,
                           check=True, cwd=tmp_path).stdout.split()
    assert shown == [",".join(VECTOR_FORMATS), ",".join(DEVICES)]
    install_plugin(tmp_path / "profile")  # again: replaces the old copy
    assert not list((tmp_path / "profile" / "python" / "plugins").glob(".*"))


def test_zip_is_installable_and_versioned(tmp_path) -> None:
    path = zip_plugin(tmp_path / "geocrobim_qgis")
    assert path.suffix == ".zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        metadata = archive.read(f"{PLUGIN_NAME}/metadata.txt").decode()
    assert all(n.startswith(f"{PLUGIN_NAME}/") for n in names)
    assert not any("__pycache__" in n or n.endswith("geocrobim_exe.txt") for n in names)
    sources = [p for p in plugin_source().rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(names) == len(sources) + 1 and f"{PLUGIN_NAME}/choices.py" in names  # + geocrobim/choices.py
    assert f"version={geocrobim.__version__}" in metadata and "hasProcessingProvider=yes" in metadata
    with pytest.raises(Exception, match="--overwrite"):
        zip_plugin(path)


def test_cli_needs_an_action(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["qgis-plugin"])
    assert result.exit_code == 2 and "--install" in result.stderr
    result = CliRunner().invoke(cli, ["qgis-plugin", "--zip", str(tmp_path / "p.zip"), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["zip"] == str(tmp_path / "p.zip")


def test_metadata_says_how_to_install_geocrobim_and_points_to_the_project() -> None:
    # QGIS's plugin manager shows `about` and the links; geocrobim is not on a package index
    # and the paper is not the project: no `pip install geocrobim`, no arXiv link.
    import configparser

    metadata = configparser.ConfigParser(interpolation=None)
    metadata.read(plugin_source() / "metadata.txt", encoding="utf-8")
    general = metadata["general"]
    about = general["about"]
    assert "pip install geocrobim" not in about and "arxiv" not in (plugin_source() / "metadata.txt").read_text().lower()
    assert "clone" in about and "pip install -c ci/constraints.txt -e ." in about and "README.md" in about
    assert "geocrobim qgis-plugin --install" in about
    assert (Path(__file__).parents[2] / "ci" / "constraints.txt").is_file()  # the file the command names
    for key in ("name", "description", "version", "qgisMinimumVersion", "author", "email"):
        assert general.get(key), key
