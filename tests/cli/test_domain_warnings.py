"""Out-of-domain inputs get one warning line each, in the human output and in --json's warnings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner
from PIL import Image

from geocrobim.cli.main import cli

EXPR = "the bright square"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test model, said to be trained at 0.3-2 m like the shipped one."""
    from geocrobim.models.testing import make_test_checkpoint

    return make_test_checkpoint(tmp_path_factory.mktemp("domain") / "ckpt", metadata={"gsd_range_m": [0.3, 2.0]})


def _square(bands: int = 3, size: int = 96) -> np.ndarray:
    data = np.full((bands, size, size), 60, dtype=np.uint8)
    data[:, 30:60, 30:70] = 230
    return data


def _segment(scene: Path, checkpoint: Path, out: Path, *args: str) -> tuple[object, dict]:
    argv = ["segment", str(scene), *args, "-o", str(out), "--checkpoint", str(checkpoint), "--json"]
    result = CliRunner().invoke(cli, argv, obj={})
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)


def test_a_landsat_like_gsd_is_far_outside_the_training_range(geotiff, checkpoint, tmp_path):
    scene = geotiff(_square(), transform=(30.0, 0.0, 500000.0, 0.0, -30.0, 4100000.0))
    result, summary = _segment(scene, checkpoint, tmp_path / "out", EXPR)
    (line,) = [w for w in summary["warnings"] if "far outside" in w]
    assert "read at 30 m per pixel, far outside the 0.3-2 m" in line and "15x smaller" in line
    assert line in result.stderr  # the human output says it too
    _, fine = _segment(geotiff(_square(), name="fine.tif", transform=(1.0, 0, 5e5, 0, -1.0, 4.1e6)), checkpoint, tmp_path / "fine", EXPR)
    assert not any("far outside" in w for w in fine["warnings"])


def test_one_band_copied_to_three_channels_is_named_with_the_stretch(geotiff, checkpoint, tmp_path):
    pan = _square(bands=1).astype(np.uint16) * 40
    scene = geotiff(pan, name="pan.tif", transform=(0.5, 0.0, 500000.0, 0.0, -0.5, 4100000.0))
    _, summary = _segment(scene, checkpoint, tmp_path / "out", EXPR)
    assert [w for w in summary["warnings"] if "band 1 is copied to R, G and B" in w]
    reading = summary["reading"]
    assert reading["bands"] == [1, 1, 1]
    assert reading["stretch"]["from"] == "2-98 % percentiles of the scene"
    assert reading["stretch"]["low"] == [2400.0] * 3 and reading["stretch"]["high"] == [9200.0] * 3
    _, ranged = _segment(scene, checkpoint, tmp_path / "ranged", EXPR, "--range", "0,10000", "--overwrite")
    assert ranged["reading"]["stretch"] == {"low": [0.0] * 3, "high": [10000.0] * 3, "from": "--range"}


@pytest.mark.parametrize("reading", [[], ["--tta"]])
def test_unknown_words_are_named_and_a_cut_sentence_says_what_was_cut(geotiff, checkpoint, tmp_path, reading):
    scene = geotiff(_square(), transform=(0.5, 0.0, 500000.0, 0.0, -0.5, 4100000.0))
    long = "the large red building next to the river " * 5 + "and the zorblax tower"
    # Once each, also when the flip ensemble encodes every sentence again, rewritten for each view.
    result, summary = _segment(scene, checkpoint, tmp_path / "out", "the zorblax warehouse", long, *reading)
    unknown = [w for w in summary["warnings"] if "does not know" in w]
    assert len(unknown) == 2 and all("'zorblax'" in w for w in unknown)
    assert sum("does not know" in line for line in result.stderr.splitlines()) == 2  # the log too, not only the JSON
    # Once, naming the word in the sentence typed: never again for the engine's model text ("every zorblax",
    # whose "every" a small vocabulary may not know) or a mirror's rewrite ("on the right").
    quoted = "the zorblax on the left"
    for coarse in ("--coarse", "--no-coarse"):
        result, _ = _segment(scene, checkpoint, tmp_path / coarse, "the zorblax on the left", coarse, *reading)
        lines = [line for line in result.stderr.splitlines() if "does not know" in line]
        assert len(lines) == 1 and f"expression {quoted!r}: " in lines[0] and "'zorblax'" in lines[0], lines
    (cut,) = [w for w in summary["warnings"] if "was cut" in w]
    dropped = re.search(r"tokens: '(.+)' was cut; shorten it$", cut)
    assert dropped and long.strip().endswith(dropped.group(1)) and dropped.group(1).endswith("and the zorblax tower")
    assert len(dropped.group(1)) < len(long.strip())  # the start of the sentence is kept


def test_a_png_without_georeference_runs_in_pixel_units(checkpoint, tmp_path):
    png = tmp_path / "photo.png"
    Image.fromarray(_square().transpose(1, 2, 0)).save(png)
    result, summary = _segment(png, checkpoint, tmp_path / "out", EXPR, "--min-score", "0")
    assert summary["crs"] is None
    lines = [w for w in summary["warnings"] if "georeference" in w or "CRS" in w or "tif" in w]
    assert len(lines) == 1, summary["warnings"]  # one line, about the user's file (no internal file), with the fix
    line = lines[0]
    assert line.startswith("photo.png has no georeference") and "gdal_translate -a_srs" in line and "px2" in line
    (item,) = summary["expressions"]
    assert item["found"] and item["area_unit"] == "px2" and item["area_m2"] is None and item["area"] > 0
    assert "px2" in result.stderr and " m2" not in result.stderr
    info = pyogrio.read_info(item["outputs"]["vector"], layer=Path(item["outputs"]["vector"]).stem)
    assert "area" in list(info["fields"]) and "area_m2" not in list(info["fields"])
