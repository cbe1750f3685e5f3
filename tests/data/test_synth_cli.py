"""``geocrobim synth`` through the real CLI: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import rasterio
from click.testing import CliRunner

from geocrobim.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["-q", *args], obj={})


def test_synth_chips(tmp_path: Path) -> None:
    out = tmp_path / "chips"
    result = run("synth", "chips", str(out), "--n", "3", "--split", "test", "--seed", "5", "--size", "64", "--gsd", "1,2")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out / "output_phrase_test.txt")
    lines = (out / "output_phrase_test.txt").read_text().splitlines()
    assert len(lines) == 3 and all((out / "mask" / line.split(" ", 1)[0]).is_file() for line in lines)
    meta = [json.loads(x) for x in (out / "synthetic_test.jsonl").read_text().splitlines()]
    assert {m["gsd"] for m in meta} <= {1.0, 2.0} and all(m["seed"] == 5 for m in meta)


def test_synth_scene(tmp_path: Path) -> None:
    out = tmp_path / "s.tif"
    result = run("synth", "scene", str(out), "--size", "256", "--gsd", "1", "--seed", "2", "--expressions", "2", "--json")
    assert result.exit_code == 0, result.output
    index = json.loads(result.output)
    assert len(index["expressions"]) == 2 and index["gsd"] == 1.0
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32633 and src.res == (1.0, 1.0)
    again = run("synth", "scene", str(out), "--size", "256")
    assert again.exit_code == 1 and again.output.startswith("Error: ") and "--overwrite" in again.output
    assert len(again.output.strip().splitlines()) == 1


def test_synth_bad_arguments(tmp_path: Path) -> None:
    assert run("synth", "chips", str(tmp_path / "c"), "--gsd", "0.5,nope").exit_code == 2
    assert run("synth", "chips", str(tmp_path / "c"), "--split", "dev").exit_code == 2
    result = run("synth", "scene", str(tmp_path / "s.png"), "--size", "64")
    assert result.exit_code == 2 and "must end in .tif" in result.output
