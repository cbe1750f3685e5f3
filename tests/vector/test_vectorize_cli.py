"""``geocrobim vectorize``: outputs, JSON, exit codes, one-line errors, nothing left on failure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner
from pyproj import CRS

from geocrobim.cli.main import cli


def _run(*args: str) -> object:
    return CliRunner().invoke(cli, ["vectorize", *args])


@pytest.fixture
def mask_path(write_raster) -> Path:
    mask = np.zeros((40, 40), np.uint8)
    mask[5:15, 5:15] = 200
    mask[25:35, 20:30] = 100
    mask[0:2, 38:40] = 255
    return write_raster(mask, "scene.mask.tif")


def test_default_output_and_json_summary(mask_path: Path) -> None:
    result = _run(str(mask_path), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    out = mask_path.parent / "scene.mask.polygons.gpkg"
    assert summary["output"] == str(out) and summary["features"] == 3 and summary["crs"] == "EPSG:32633"
    assert summary["area_m2"] == pytest.approx((100 + 100 + 4) * 0.25)
    assert pyogrio.read_info(out, layer="scene.mask.polygons")["features"] == 3


def test_options_reach_the_library(mask_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "objects.fgb"
    result = _run(str(mask_path), "-o", str(out), "--threshold", "150", "--min-area", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["features"] == 2  # 200 and 255 >= 150; 255's speck is 1 m2
    assert pyogrio.read_info(out)["features"] == 2
    assert (tmp_path / "out" / "objects.qml").exists()

    result = _run(str(mask_path), "-o", str(tmp_path / "plain"), "--format", "shp", "--no-style")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plain.shp").exists() and not (tmp_path / "plain.qml").exists()


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [
        ("missing", [], 1, "not found"),
        ("text", [], 1, "not a raster GDAL can read"),
        ("exists", [], 1, "--overwrite"),
        ("ok", ["--format", "kml"], 2, "Invalid value for '--format'"),
        ("ok", ["-o", "x.gpkg", "--format", "shp"], 2, "make them agree"),
        ("ok", ["--band", "3"], 2, "band 3"),
    ],
)
def test_errors_are_one_line_with_exit_code_and_leave_nothing(mask_path, tmp_path, setup, args, code, message) -> None:
    target = {"missing": tmp_path / "nope.tif", "text": tmp_path / "notes.tif"}.get(setup, mask_path)
    if setup == "text":
        target.write_text("hello")
    out = tmp_path / "result.gpkg"
    if setup == "exists":
        out.write_bytes(b"previous")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _run(str(target), *(args or ["-o", str(out)]))

    assert result.exit_code == code
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if setup == "exists":
        assert out.read_bytes() == b"previous"


#: A transverse Mercator with no EPSG code: the summary gives its WKT.
CUSTOM_CRS = "+proj=tmerc +lat_0=0 +lon_0=15 +k=0.9996 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "fgb", "shp"])
@pytest.mark.parametrize("crs", ["EPSG:32633", CUSTOM_CRS, None])
def test_json_reports_the_crs_the_file_has(write_raster, tmp_path: Path, fmt: str, crs: str | None) -> None:
    # The summary gave the mask's CRS even where the file has another: GeoJSON is WGS84.
    mask = np.zeros((40, 40), np.uint8)
    mask[5:15, 5:15] = 1
    path = write_raster(mask, "objects.tif", crs=crs)
    out = tmp_path / f"objects.{fmt}"
    result = _run(str(path), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    reported = json.loads(result.stdout.strip().splitlines()[-1])["crs"]
    stored = pyogrio.read_info(out, layer="objects")["crs"]
    if crs is None and fmt == "geojson":
        # No CRS to write; GeoJSON readers assume WGS84 all the same, which the run warns about.
        assert reported is None and "without a CRS" in result.stderr
    elif crs is None:
        assert reported is None and stored is None
    else:
        said, has = CRS.from_user_input(reported), CRS.from_user_input(stored)
        # A Shapefile's ESRI WKT renames an unnamed datum ("D_Unknown_..."): same projection and ellipsoid.
        assert said == has or said.to_dict() == has.to_dict(), (reported, stored)
        assert (said.to_epsg() == 4326) == (fmt == "geojson")
