"""``geocrobim refdata`` through the real CLI: the SpaceNet scene end to end, and every bad input.

Every error must be one line, a non-zero exit code, no traceback, and nothing at OUT
(nor a staging folder beside it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from PIL import Image

from geocrobim.cli.main import cli

SPACENET = Path(__file__).resolve().parents[1] / "real_rasters" / "spacenet"
SCENE = SPACENET / "sample_geotiff.tif"
LABELS = SPACENET / "geotiff_labels.geojson"
UTM = "EPSG:32633"
X0, Y0 = 480_000.0, 5_120_000.0


def run(*args: object) -> object:
    return CliRunner().invoke(cli, ["-q", "refdata", *map(str, args)], obj={})


def assert_clean_failure(result: object, out: Path, *words: str, code: int | None = None) -> None:
    """One 'Error:' line naming the problem, non-zero exit, nothing at OUT or beside it."""
    assert result.exit_code != 0, result.output  # type: ignore[attr-defined]
    if code is not None:
        assert result.exit_code == code, result.output  # type: ignore[attr-defined]
    lines = result.output.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    for word in words:
        assert word in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


# -- end to end on the real SpaceNet scene -----------------------------------------------------


def test_spacenet_end_to_end(tmp_path: Path) -> None:
    """Panchromatic uint16 WorldView scene, 43 footprints: chips, masks, phrases, index, split val readable."""
    out = tmp_path / "refdata"
    result = subprocess.run(
        [sys.executable, "-m", "geocrobim.cli.main", "-q", "refdata", str(SCENE), f"{LABELS}=building", "-o", str(out),
         "--holdout", "0.35", "--overlap", "0", "--per-chip", "2", "--gsd", "0.5", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    from geocrobim.data.refdata import checkpoint_reading

    model_gsd, size = checkpoint_reading("default")  # 1 m and 256 px for the shipped model
    gsd = summary["gsd"]
    assert (gsd, summary["size"]) == (0.5, size) and model_gsd == 1.0  # --gsd wins, the size is the model's
    assert summary["pairs"]["train"] >= 2 and summary["pairs"]["val"] >= 1
    records = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert len(records) == summary["pairs"]["train"] + summary["pairs"]["val"]
    with rasterio.open(SCENE) as src:
        scene_box = shapely.box(*src.bounds)
    east = {r["split"]: [] for r in records}
    for r in records:
        east[r["split"]].append(r["bounds"][0])
        assert r["crs"].endswith("32616")
        assert scene_box.contains(shapely.box(*r["bounds"]))
        image = np.asarray(Image.open(out / "img_rgb" / r["file"]))
        mask = np.asarray(Image.open(out / "mask" / r["file"]))
        assert image.shape == (size, size, 3) and image.dtype == np.uint8 and mask.shape == (size, size)
        assert set(np.unique(mask)) == {0, 255}
        assert "building" in r["expression"].lower() and r["target"]["category"] == "building"
    assert min(east["val"]) >= max(b + size * gsd for b in east["train"]) - 1e-6  # held-out chips lie east of training ones
    # re-check every stored query on the chip's features, read afresh
    from geocrobim.data.refdata import LayerSpec, Source, query_from_json
    from geocrobim.data.refdata.split import Chip

    source = Source.open(SCENE, [LayerSpec.parse(f"{LABELS}=building")])
    with source.scene.open() as src:
        for r in records:
            chip = Chip.from_json(r["chip"])
            table = source.world(chip, source.read(chip, src)[1]).table()
            assert query_from_json(r["query"]).evaluate(table) == [r["target"]["row"]], r["expression"]
    # the held-out part is the RISBench split "val" that evaluate and the datamodule read
    from geocrobim.data.risbench import risbench_records

    assert len(risbench_records(out, "val")) == summary["pairs"]["val"]
    assert len(risbench_records(out, "train")) == summary["pairs"]["train"]


def test_evaluate_reads_the_holdout(tmp_path: Path) -> None:
    from geocrobim.models.testing import make_test_checkpoint

    out = tmp_path / "refdata"
    made = run(SCENE, f"{LABELS}=building", "-o", out, "--holdout", "0.35", "--overlap", "0", "--per-chip", "1", "--gsd", "0.5")
    assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
    ckpt = make_test_checkpoint(tmp_path / "ckpt")
    result = CliRunner().invoke(
        cli, ["-q", "evaluate", "--checkpoint", str(ckpt), "--dataset", "risbench", "--root", str(out), "--split", "val",
              "--image-size", "64", "--device", "cpu", "--json"], obj={})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["pairs"] >= 1


# -- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def scene(geotiff) -> Path:
    """200 x 200 px at 0.5 m in UTM 33N (100 m square), origin 480000 E 5120000 N."""
    data = np.random.default_rng(0).integers(0, 200, size=(3, 200, 200)).astype(np.uint8)
    return geotiff(data, transform=(0.5, 0.0, X0, 0.0, -0.5, Y0))


def buildings(path: Path, geoms: list[object], crs: str = UTM, **columns: list[object]) -> Path:
    gpd.GeoDataFrame(columns or None, geometry=geoms, crs=crs).to_file(path, driver="GPKG")
    return path


def good_boxes() -> list[object]:
    return [shapely.box(X0 + 10 + 12 * i, Y0 - 30, X0 + 18 + 12 * i, Y0 - 22) for i in range(6)]


def test_good_input_works(scene: Path, tmp_path: Path) -> None:
    layer = buildings(tmp_path / "buildings.gpkg", good_boxes(), roof=["red", "grey"] * 3)
    out = tmp_path / "out"
    result = run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--holdout", "0.4", "--attribute", "colour=roof")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert (out / "output_phrase_train.txt").is_file() and (out / "output_phrase_val.txt").is_file()
    again = run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--holdout", "0.4")
    assert again.exit_code == 1 and "--overwrite" in again.output  # type: ignore[attr-defined]
    assert run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--holdout", "0.4", "--overwrite").exit_code == 0  # type: ignore[attr-defined]
    # read as segment reads it: the same --bands and --range
    swapped = run(scene, layer, "-o", tmp_path / "swapped", "--gsd", "0.5", "--size", "64", "--holdout", "0.4",
                  "--bands", "3,2,1", "--range", "0,100")  # fmt: skip
    assert swapped.exit_code == 0, swapped.output  # type: ignore[attr-defined]
    name = (tmp_path / "swapped" / "output_phrase_train.txt").read_text().split(" ", 1)[0]
    plain = np.asarray(Image.open(out / "img_rgb" / name)).astype(int)
    other = np.asarray(Image.open(tmp_path / "swapped" / "img_rgb" / name)).astype(int)
    assert other.max() == 255 and not np.array_equal(plain, other)


def test_layer_with_no_feature_in_the_scene(scene: Path, tmp_path: Path) -> None:
    far = [shapely.box(X0 + 5000, Y0 - 30, X0 + 5010, Y0 - 20)]
    layer = buildings(tmp_path / "elsewhere.gpkg", far)
    out = tmp_path / "out"
    assert_clean_failure(run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64"), out,
                         "no feature inside the scene", "elsewhere.gpkg")  # fmt: skip


def test_crs_that_cannot_be_transformed(scene: Path, tmp_path: Path) -> None:
    mars = [shapely.box(10, 10, 11, 11)]
    layer = buildings(tmp_path / "mars.gpkg", mars, crs="IAU_2015:49900")
    out = tmp_path / "out"
    assert_clean_failure(run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64"), out,
                         "cannot be transformed", "EPSG:32633", "ogr2ogr -t_srs")  # fmt: skip


def test_attribute_that_does_not_exist(scene: Path, tmp_path: Path) -> None:
    layer = buildings(tmp_path / "buildings.gpkg", good_boxes(), roof=["red"] * 6)
    out = tmp_path / "out"
    result = run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--attribute", "colour=roof_colour")
    assert_clean_failure(result, out, "'roof_colour'", "roof")
    result = run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--category-field", "kind")
    assert_clean_failure(result, out, "'kind'")


def test_invalid_geometry(scene: Path, tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(X0 + 10, Y0 - 10), (X0 + 20, Y0 - 20), (X0 + 20, Y0 - 10), (X0 + 10, Y0 - 20)])
    layer = buildings(tmp_path / "buildings.gpkg", [*good_boxes(), bowtie])
    out = tmp_path / "out"
    assert_clean_failure(run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--holdout", "0.4"), out,
                         "invalid geometry", "Self-intersection", "--make-valid")  # fmt: skip
    fixed = run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--holdout", "0.4", "--make-valid")
    assert fixed.exit_code == 0, fixed.output  # type: ignore[attr-defined]


def test_raster_without_crs(geotiff, tmp_path: Path) -> None:
    bare = geotiff(np.zeros((3, 200, 200), np.uint8), name="bare.tif", crs=None)
    layer = buildings(tmp_path / "buildings.gpkg", good_boxes())
    out = tmp_path / "out"
    assert_clean_failure(run(bare, layer, "-o", out, "--gsd", "0.5", "--size", "64"), out, "has no CRS", "gdal_edit.py")


def test_layer_without_crs_and_missing_files(scene: Path, tmp_path: Path) -> None:
    layer = buildings(tmp_path / "nocrs.gpkg", good_boxes(), crs=None)  # type: ignore[arg-type]
    out = tmp_path / "out"
    assert_clean_failure(run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64"), out, "has no CRS", "-a_srs")
    assert_clean_failure(run(scene, tmp_path / "nope.gpkg", "-o", out), out, "does not exist")
    assert_clean_failure(run(scene, layer, "-o", out, "--attribute", "height=h"), out, "height", code=2)


# -- the fine-tuning recipe --------------------------------------------------------------------

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "finetune_refdata.yaml"


def test_finetune_recipe_parses(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from geocrobim.training.fit import build_cli

    with pytest.raises(SystemExit) as exit_info:
        build_cli(["--config", str(RECIPE), "--print_config"])
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["init_args"]["init_checkpoint"] == "default"
    assert printed["data"]["class_path"].endswith("RISBenchDataModule")
    assert printed["trainer"]["accelerator"] == "cpu" and printed["trainer"]["max_steps"] <= 500


def test_finetune_recipe_runs_on_refdata_chips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The recipe, shrunk (test checkpoint, 64 px, 2 steps), trains on refdata output and exports."""
    from geocrobim.models import load_checkpoint
    from geocrobim.models.testing import make_test_checkpoint

    chips = tmp_path / "refdata"
    made = run(SCENE, f"{LABELS}=building", "-o", chips, "--holdout", "0.35", "--overlap", "0", "--per-chip", "1", "--gsd", "0.5")
    assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
    start = make_test_checkpoint(tmp_path / "start", metadata={"preset": "crobim_test"})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["train", "--config", str(RECIPE), f"--model.init_args.init_checkpoint={start}", "--model.init_args.encoder_frozen_stages=0",
         f"--data.init_args.root={chips}", "--data.init_args.image_size=64", "--data.init_args.batch_size=2",
         "trainer.max_steps=2", "trainer.val_check_interval=2", "trainer.enable_progress_bar=false"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    export = load_checkpoint(tmp_path / "runs" / "finetune" / "export")
    assert export.metadata["model_id"] == "finetune-refdata" and export.metadata["gsd_m"] == 0.5
    assert export.metadata["preset"] == "crobim_test"  # the init checkpoint's, not the unused default
    assert "val" in export.metadata["metrics"]


def test_unknown_target_category_and_small_holdout(scene: Path, tmp_path: Path) -> None:
    layer = buildings(tmp_path / "buildings.gpkg", good_boxes())
    out = tmp_path / "out"
    assert_clean_failure(run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--target", "tank"), out,
                         "'tank'", "building")  # fmt: skip
    assert_clean_failure(run(scene, layer, "-o", out, "--gsd", "0.5", "--size", "64", "--holdout", "0.2"), out,
                         "holds no whole chip", "--holdout", code=2)  # fmt: skip
