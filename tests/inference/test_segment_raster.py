"""End-to-end tests of segment_raster: real files in, real files out, reopened and checked."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from PIL import Image
from rio_cogeo.cogeo import cog_validate

from geocrobim.errors import OutputError
from geocrobim.inference import segment_raster
from geocrobim.inference.masks import MASK_NODATA
from geocrobim.raster.quicklook_draw import OUTLINE
from tests.inference.conftest import squares

DATA = Path(__file__).resolve().parents[1] / "real_rasters"


def run(scene: Path, out: Path, predictor: Any, expressions: list[str] | None = None, **options: Any) -> Any:
    return segment_raster(scene, expressions or ["the bright square"], output_dir=out, predictor=predictor, **options)


def read(path: Path | str) -> tuple[np.ndarray, Any]:
    with rasterio.open(path) as src:
        return src.read(1), src.profile | {"tags": src.tags(ns="IMAGE_STRUCTURE"), "overviews": src.overviews(1)}


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_outputs_land_on_the_input_grid(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((120, 160), [(40, 60, 40, 40, 255)]))
    result = run(scene, tmp_path / "out", stub(), probabilities=True, coarse=False)
    paths = result.expressions[0].outputs
    with rasterio.open(scene) as src:
        crs, transform, shape = src.crs, src.transform, src.shape
    for raster in (paths.mask, paths.probabilities):
        with rasterio.open(raster) as out:
            assert out.crs == crs and out.transform == transform and out.shape == shape
            assert out.dtypes == ("uint8",)
            assert out.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert cog_validate(raster, quiet=True) == (True, [], [])
    mask, profile = read(paths.mask)
    assert profile["nodata"] == MASK_NODATA
    expected = np.zeros((120, 160), dtype=np.uint8)
    expected[40:80, 60:100] = 1
    np.testing.assert_array_equal(mask, expected)  # brightness response: exactly the square
    layer = gpd.read_file(paths.vector)
    assert len(layer) == 1 and layer.crs.to_epsg() == 32633
    assert layer.area_m2.iloc[0] == pytest.approx(40 * 40 * 0.25)
    assert set(layer.columns) >= {"expression", "score", "area_m2", "model_id", "scene", "geometry"}
    assert layer.expression.iloc[0] == "the bright square" and layer.scene.iloc[0] == scene.name
    assert paths.mask.with_suffix(".qml").exists()
    with Image.open(paths.quicklook) as quicklook:  # 3x (a small scene), with a caption band below
        picture = np.asarray(quicklook.convert("RGB"))
    assert picture.shape[1] == 480 and picture.shape[0] > 360 + 40
    rows, cols = np.nonzero((picture == OUTLINE).all(axis=-1))
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (120, 239, 180, 299)  # the square, outlined
    assert files_in(tmp_path / "out") == sorted(
        [paths.mask.name, paths.mask.with_suffix(".qml").name, paths.probabilities.name,
         paths.probabilities.with_suffix(".qml").name, paths.vector.name, paths.vector.with_suffix(".qml").name,
         paths.quicklook.name]
    )


@pytest.mark.parametrize("gsd", [None, 1.0])
def test_constant_model_gives_a_constant_output_without_seams(geotiff, stub, constant_response, tmp_path, gsd):
    rng = np.random.default_rng(0)
    scene = geotiff(rng.integers(0, 255, (3, 150, 200), dtype=np.uint8))
    predictor = stub(tile_size=32, response=constant_response(0.7))
    result = run(scene, tmp_path / "out", predictor, probabilities=True, coarse=False, gsd=gsd, overlap=8)
    prob, _ = read(result.expressions[0].outputs.probabilities)
    values = np.unique(prob)
    assert len(values) == 1 and abs(int(values[0]) - 0.7 * 255) <= 0.5  # one value everywhere: no seam
    mask, _ = read(result.expressions[0].outputs.mask)
    assert (mask == 1).all()
    assert result.expressions[0].instances == 1
    assert result.reading["footprint_px"] == (32 if gsd is None else 64)


def test_reading_gsd_resamples_and_outputs_stay_on_the_source_grid(geotiff, stub, make_squares, tmp_path):
    # 0.5 m source read at 1 m: windows of 32 model pixels cover 64 source pixels.
    scene = geotiff(make_squares((160, 200), [(50, 70, 48, 48, 255)]))
    predictor = stub(tile_size=32, gsd=1.0, keep_images=True)
    result = run(scene, tmp_path / "out", predictor, coarse=False)
    assert result.reading["reading_gsd_m"] == 1.0 and result.reading["footprint_px"] == 64
    assert {c[2:] for c in predictor.calls} == {(32, 32)}  # the model saw tile-sized windows
    mask, profile = read(result.expressions[0].outputs.mask)
    assert mask.shape == (160, 200) and profile["transform"] == Affine(0.5, 0, 480_000, 0, -0.5, 5_120_000)
    truth = np.zeros_like(mask, dtype=bool)
    truth[50:98, 70:118] = True
    iou = (truth & (mask == 1)).sum() / (truth | (mask == 1)).sum()
    assert iou > 0.9


def test_model_gsd_coarser_than_the_source_is_the_default_reading_gsd(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((100, 100), [(20, 20, 30, 30, 255)]))
    result = run(scene, tmp_path / "out", stub(tile_size=32, gsd=2.0), coarse=False)
    assert result.reading["reading_gsd_m"] == 2.0 and result.reading["footprint_px"] == 128
    # A source coarser than the model is read as it is (no upsampling by default).
    result = run(scene, tmp_path / "out2", stub(tile_size=32, gsd=0.1), coarse=False)
    assert result.reading["reading_gsd_m"] == 0.5 and result.reading["footprint_px"] == 32


def test_instances_best_keeps_the_highest_score_and_all_keeps_every_component(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((120, 200), [(20, 20, 30, 30, 200), (60, 120, 30, 30, 255)]))
    every = run(scene, tmp_path / "all", stub(), instances="all", coarse=False)
    best = run(scene, tmp_path / "best", stub(), coarse=False)
    layer_all = gpd.read_file(every.expressions[0].outputs.vector)
    layer_best = gpd.read_file(best.expressions[0].outputs.vector)
    assert len(layer_all) == 2 and layer_all["rank"].tolist() == [1, 2]
    assert layer_all.score.iloc[0] > layer_all.score.iloc[1]
    assert len(layer_best) == 1 and layer_best.score.iloc[0] == pytest.approx(1.0, abs=0.01)
    mask, _ = read(best.expressions[0].outputs.mask)
    assert mask[60:90, 120:150].all() and not mask[20:50, 20:50].any()
    mask_all, _ = read(every.expressions[0].outputs.mask)
    assert mask_all[60:90, 120:150].all() and mask_all[20:50, 20:50].all()
    assert every.expressions[0].instances == 2 and every.expressions[0].components == 2


def test_scene_wide_words_are_resolved_by_the_engine_not_the_windows(geotiff, stub, make_squares, tmp_path):
    # Three squares of 20, 30 and 24 px, the brightest in the west: the stub's score follows brightness.
    boxes = [(60, 20, 20, 20, 255), (60, 100, 30, 30, 230), (60, 170, 24, 24, 220)]
    scene = geotiff(make_squares((160, 200), boxes))
    seen: list[str] = []

    class Recording(stub):  # type: ignore[misc, valid-type]
        def encode_text(self, expressions, *, warn_user=True):
            seen.extend(expressions)
            return super().encode_text(expressions, warn_user=warn_user)

    sentences = ["the rightmost square", "the second largest square", "the square on the left side of the image", "the bright square"]
    result = run(scene, tmp_path / "out", Recording(), sentences, coarse=False, min_score=0.0)
    # the sentences typed are checked for unknown words; a rank or a part of the image asks for every candidate
    assert seen == [*sentences, "every square", "every square", "every square", "the bright square"]
    picked = [gpd.read_file(e.outputs.vector).geometry.iloc[0].centroid for e in result.expressions]
    with rasterio.open(scene) as src:
        cols = [round((~src.transform @ (p.x, p.y))[0]) for p in picked]
    assert cols == [182, 182, 30, 30]  # the east one is rightmost and second largest; the west one is on the left and brightest
    assert result.expressions[0].scene_words.startswith("rank 1 by easting, largest first: 3 candidate(s) of 'every square'")
    assert result.expressions[3].scene_words is None
    mask, _ = read(result.expressions[0].outputs.mask)
    assert mask[60:84, 170:194].all() and mask.sum() == 24 * 24
    # --no-scene-words: every window reads the whole sentence, and the best score wins.
    seen.clear()
    plain = run(scene, tmp_path / "plain", Recording(), sentences[:1], coarse=False, min_score=0.0, scene_words=False)
    assert seen == sentences[:1] and plain.expressions[0].scene_words is None
    mask, _ = read(plain.expressions[0].outputs.mask)
    assert mask[60:80, 20:40].all() and mask.sum() == 20 * 20



def river_scene(shape: tuple[int, int], river: bool = True) -> np.ndarray:
    """A blue west-east river across the middle rows, a grey square north of it and a brighter one south."""
    h, w = shape
    data = squares(shape, [(h // 8, w // 4, 20, 20, 200), (h - h // 8 - 20, w // 2, 20, 20, 255)])
    if river:
        data[:, h // 2 - 8 : h // 2 + 8, :] = np.array([0, 40, 255], dtype=np.uint8)[:, None, None]
    return data


def river_stub(base: Any, seen: list[list[str]]) -> Any:
    """A stub that finds "the river" on blue pixels, anything else on bright grey ones, and records its texts."""

    class RiverStub(base):  # type: ignore[misc, valid-type]
        def encode_text(self, expressions, *, warn_user=True):
            seen.append(list(expressions))
            return super().encode_text(expressions, warn_user=warn_user)

        def predict(self, images, text):
            self.calls.append((images.shape[0], len(text), *images.shape[2:]))
            blue = (images[:, 2] > 200) & (images[:, 0] < 50)
            grey = images.min(axis=1).astype(np.float32) / 255.0
            return np.stack([blue.astype(np.float32) if t == "the river" else grey for t in text], axis=1)

    return RiverStub()


@pytest.mark.parametrize(("shape", "coarse"), [((480, 640), True), ((160, 200), False)])
def test_the_bank_of_the_river_is_measured_on_the_river_the_model_finds(geotiff, stub, tmp_path, shape, coarse):
    scene = geotiff(river_scene(shape))
    seen: list[list[str]] = []
    sentences = ["the bright square north of the river", "the bright square"]
    ticks: list[tuple[int, int]] = []
    progress = lambda done, total: ticks.append((done, total))  # noqa: E731
    result = run(scene, tmp_path / "out", river_stub(stub, seen), sentences, coarse=coarse, min_score=0.0, progress=progress)
    # One progress bar over every model window, the river's view included.
    assert ticks[-1][0] == ticks[-1][1] > result.reading["fine_windows_selected"]
    assert [d for d, _ in ticks] == sorted(d for d, _ in ticks)
    # The river is asked for on the coarse view (with the sentences, or alone); the windows read the sentences.
    assert seen == ([[*sentences, "the river"], sentences] if coarse else [["the river"], sentences])
    north, brightest = (gpd.read_file(e.outputs.vector).geometry.iloc[0].centroid for e in result.expressions)
    with rasterio.open(scene) as src:
        rows = [round((~src.transform @ (p.x, p.y))[1]) for p in (north, brightest)]
    h = shape[0]
    assert rows[0] == h // 8 + 10 and rows[1] == h - h // 8 - 10  # the grey square north of the river; the brighter one south
    assert result.expressions[0].scene_words == "north of the river: 1 candidate(s) of 'the bright square north of the river'"
    assert result.expressions[1].scene_words is None


def test_without_a_river_in_the_scene_the_model_reads_the_bank_itself(geotiff, stub, tmp_path):
    scene = geotiff(river_scene((160, 200), river=False))
    seen: list[list[str]] = []
    result = run(scene, tmp_path / "out", river_stub(stub, seen), ["the bright square north of the river"], min_score=0.0)
    assert seen == [["the bright square north of the river", "the river"], ["the bright square north of the river"]]
    assert any("no river found in the scene; the model reads 'north of the river' itself" in w for w in result.warnings)
    assert result.expressions[0].scene_words is None and result.expressions[0].found


def test_the_coarse_pass_reads_the_whole_sentence_and_the_windows_the_rest(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((480, 640), [(200, 300, 60, 60, 255)]))
    seen: list[list[str]] = []

    class Recording(stub):  # type: ignore[misc, valid-type]
        def encode_text(self, expressions, *, warn_user=True):
            seen.append(list(expressions))
            return super().encode_text(expressions, warn_user=warn_user)

    result = run(scene, tmp_path / "out", Recording(), ["the rightmost square", "the bright square"], min_score=0.0)
    assert result.reading["coarse"] and result.expressions[0].scene_words is not None
    assert seen == [["the rightmost square", "the bright square"], ["every square", "the bright square"]]


def test_coarse_pass_restricts_the_fine_pass_to_windows_near_candidates(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((480, 640), [(200, 300, 60, 60, 255)]))
    full, near = stub(), stub()
    everything = run(scene, tmp_path / "all", full, coarse=False)
    coarse = run(scene, tmp_path / "coarse", near)
    assert not everything.reading["coarse"] and coarse.reading["coarse"]
    assert coarse.reading["coarse_windows"] >= 1 and not coarse.reading["coarse_fallback"]
    fine_run = coarse.reading["fine_windows_run"]
    assert fine_run == near.windows - coarse.reading["coarse_windows"]
    assert fine_run < everything.reading["fine_windows_run"] / 4 == full.windows / 4
    a, _ = read(everything.expressions[0].outputs.mask)
    b, profile = read(coarse.expressions[0].outputs.mask)
    np.testing.assert_array_equal(a, b)
    assert profile["overviews"] == [2] and profile["tags"]["LAYOUT"] == "COG"  # 640 px: one overview level
    assert coarse.expressions[0].score == pytest.approx(1.0, abs=0.05)  # fine 1.0 x coarse support ~1


def test_coarse_pass_that_finds_nothing_falls_back_to_every_window(geotiff, stub, make_squares, tmp_path, caplog):
    scene = geotiff(make_squares((480, 640), []))
    with caplog.at_level(logging.WARNING, logger="geocrobim"):
        result = run(scene, tmp_path / "out", stub())
    assert result.reading["coarse_fallback"]
    assert result.reading["fine_windows_run"] == result.reading["windows"]
    assert any("falling back to all windows" in w for w in result.warnings)
    assert result.expressions[0].instances == 0 and result.expressions[0].score is None
    assert "no pixel reached" in result.expressions[0].note and not result.expressions[0].found


def test_expressions_share_every_image_encoder_call(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((100, 130), [(20, 20, 30, 30, 255)]))
    one, two = stub(), stub()
    run(scene, tmp_path / "one", one, ["a"], coarse=False)
    result = run(scene, tmp_path / "two", two, ["a", "the second one"], coarse=False)
    assert [c[0] for c in one.calls] == [c[0] for c in two.calls]  # same windows, same batches
    assert {c[1] for c in two.calls} == {2}  # every call scored both expressions
    assert [e.outputs.mask.name for e in result.expressions] == ["scene.a.mask.tif", "scene.the-second-one.mask.tif"]


@pytest.mark.parametrize("count", [3, 4, 5])
def test_every_expression_keeps_its_objects_whatever_the_last_one_finds(geotiff, stub, make_squares, tmp_path, count):
    # Found on 4-expression scenes: the stitched file's fourth band was read as alpha, so every other
    # expression lost its objects wherever the fourth found nothing (with every window run).
    scene = geotiff(make_squares((120, 200), [(60, 120, 30, 30, 255)]))

    def response(images: np.ndarray, expression: int) -> np.ndarray:
        bright = images.mean(axis=1) / 255.0
        return bright if expression < count - 1 else np.zeros_like(bright)

    texts = [f"the bright square number {i}" for i in range(count)]
    result = run(scene, tmp_path / "out", stub(response=response), texts, coarse=False, probabilities=True)
    for e, expression in enumerate(result.expressions):
        mask, _ = read(expression.outputs.mask)
        probs, profile = read(expression.outputs.probabilities)
        with rasterio.open(expression.outputs.probabilities) as src:
            assert (src.dataset_mask() == 255).all()
        if e < count - 1:
            assert expression.found and mask[60:90, 120:150].all() and mask.sum() == 900
            assert (probs[60:90, 120:150] == 255).all()
        else:
            assert not expression.found and not (mask == 1).any() and not probs.any()


def encoded(predictor: Any, *runs: Any) -> list[tuple[Any, int]]:
    """Call each of ``runs``; its result and how many windows the real model's image encoder saw."""
    seen: list[int] = []
    hook = predictor.model.image_encoder.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    out = []
    try:
        for call in runs:
            seen.clear()
            out.append((call(), sum(seen)))
    finally:
        hook.remove()
    return out


def test_real_model_runs_its_image_encoder_once_per_window(geotiff, test_predictor, tmp_path):
    rng = np.random.default_rng(1)
    scene = geotiff(rng.integers(0, 255, (3, 100, 120), dtype=np.uint8))
    (single, windows_single), (double, windows_double) = encoded(
        test_predictor,
        lambda: run(scene, tmp_path / "one", test_predictor, ["the red roof"], coarse=False, batch_size=4),
        lambda: run(scene, tmp_path / "two", test_predictor, ["the red roof", "the river"], coarse=False, batch_size=4),
    )
    assert windows_single == windows_double == single.reading["fine_windows_run"] == double.reading["windows"]
    for item in double.expressions:
        with rasterio.open(item.outputs.mask) as src:
            assert src.shape == (100, 120) and src.crs.to_epsg() == 32633
            assert set(np.unique(src.read(1))) <= {0, 1}


def test_tta_runs_each_window_its_two_mirrors_and_its_turn_and_writes_the_averaged_probabilities(geotiff, test_predictor, tmp_path):
    rng = np.random.default_rng(2)
    scene = geotiff(rng.integers(0, 255, (3, 100, 120), dtype=np.uint8))
    text = ["the pool on the left"]
    (plain, windows), (tta, windows_tta) = encoded(
        test_predictor,
        lambda: run(scene, tmp_path / "plain", test_predictor, text, coarse=False, probabilities=True),
        lambda: run(scene, tmp_path / "tta", test_predictor, text, coarse=False, probabilities=True, tta=True),
    )
    assert windows_tta == 4 * windows == 4 * tta.reading["fine_windows_run"]
    assert tta.reading["tta"] is True and plain.reading["tta"] is False  # the test model's metadata says nothing
    (p_plain, _), (p_tta, profile) = read(plain.expressions[0].outputs.probabilities), read(tta.expressions[0].outputs.probabilities)
    assert profile["width"] == 120 and profile["crs"].to_epsg() == 32633
    assert np.abs(p_plain.astype(int) - p_tta.astype(int)).max() > 0  # the mirrors changed the answer


def test_tta_by_default_is_what_the_models_metadata_says(stub):
    from geocrobim.inference.engine import uses_tta
    from geocrobim.inference.options import SegmentOptions

    recommends = stub(tile_size=32)
    recommends.metadata = {"tta": True}  # type: ignore[attr-defined]  # as the shipped model's metadata.json
    assert uses_tta(SegmentOptions(), recommends) and not uses_tta(SegmentOptions(tta=False), recommends)
    assert not uses_tta(SegmentOptions(), stub(tile_size=32)) and uses_tta(SegmentOptions(tta=True), stub())


def test_nodata_windows_are_skipped_and_masked(geotiff, stub, tmp_path):
    data = np.full((3, 96, 160), 200, dtype=np.uint8)
    data[:, :, :80] = 0  # left half is nodata
    scene = geotiff(data, nodata=0)
    predictor = stub(tile_size=32)
    result = run(scene, tmp_path / "out", predictor, coarse=False, overlap=0)
    # 5 x 3 windows of 32 px without overlap; the 2.5 left columns of windows hold no data.
    assert result.reading["windows"] == 15 and result.reading["fine_windows_skipped"] == 6
    assert predictor.windows == 9
    mask, _ = read(result.expressions[0].outputs.mask)
    assert (mask[:, :80] == MASK_NODATA).all() and (mask[:, 80:] == 1).all()


def test_alpha_band_and_internal_mask_are_invalid_pixels(geotiff, stub, tmp_path):
    rgba = np.full((4, 64, 96), 220, dtype=np.uint8)
    rgba[3, :32] = 0  # transparent top half
    alpha_scene = geotiff(rgba, name="rgba.tif", colorinterp=["red", "green", "blue", "alpha"])
    internal = np.ones((64, 96), dtype=bool)
    internal[:, 48:] = False
    mask_scene = geotiff(np.full((3, 64, 96), 220, dtype=np.uint8), name="masked.tif", mask=internal)
    cases = (
        (alpha_scene, (slice(0, 32), slice(None)), 3),  # the top row of three 32 px windows
        (mask_scene, (slice(None), slice(48, None)), 2),  # the right column of two (the middle one is half valid)
    )
    for scene, invalid, skipped in cases:
        result = run(scene, tmp_path / scene.stem, stub(), coarse=False, overlap=0)
        mask, _ = read(result.expressions[0].outputs.mask)
        assert (mask[invalid] == MASK_NODATA).all()
        valid = np.ones(mask.shape, dtype=bool)
        valid[invalid] = False
        assert (mask[valid] == 1).all()
        assert result.reading["fine_windows_skipped"] == skipped


def test_all_nodata_scene_gives_an_empty_mask_and_layer(geotiff, stub, tmp_path, caplog):
    scene = geotiff(np.zeros((3, 64, 64), dtype=np.uint8), nodata=0)
    predictor = stub()
    with caplog.at_level(logging.WARNING, logger="geocrobim"):
        result = run(scene, tmp_path / "out", predictor)
    assert predictor.windows == 0 and result.reading["no_valid_pixels"]
    item = result.expressions[0]
    assert item.instances == 0 and item.score is None and "no valid pixel" in item.note
    assert any("no valid pixel" in w for w in result.warnings)
    mask, _ = read(item.outputs.mask)
    assert (mask == MASK_NODATA).all()
    assert len(gpd.read_file(item.outputs.vector)) == 0


def test_uint16_float_nan_and_geographic_inputs(geotiff, stub, tmp_path):
    u16 = np.full((1, 80, 80), 1000, dtype=np.uint16)
    u16[0, 20:50, 20:50] = 4000
    u16[0, 0, 0] = 0
    result = run(geotiff(u16, name="u16.tif"), tmp_path / "u16", stub(), coarse=False)
    mask, _ = read(result.expressions[0].outputs.mask)
    assert mask[22:48, 22:48].all() and not mask[60:, 60:].any()

    f32 = np.full((3, 80, 80), 0.1, dtype=np.float32)
    f32[:, 20:50, 20:50] = 0.9
    f32[:, 60:, :] = np.nan
    result = run(geotiff(f32, name="f32.tif"), tmp_path / "f32", stub(), coarse=False)
    mask, _ = read(result.expressions[0].outputs.mask)
    assert (mask[60:] == MASK_NODATA).all() and mask[22:48, 22:48].all() and not mask[:15, :15].any()

    geo = np.zeros((3, 80, 80), dtype=np.uint8)
    geo[:, 20:50, 20:50] = 255
    scene = geotiff(geo, name="geo.tif", crs="EPSG:4326", transform=(1e-5, 0, 10.0, 0, -1e-5, 45.0))
    result = run(scene, tmp_path / "geo", stub(), coarse=False)
    assert result.crs == "EPSG:4326"
    assert result.reading["source_gsd_m"] == pytest.approx(0.95, abs=0.05)  # ~1.1 m x ~0.79 m at 45 N
    layer = gpd.read_file(result.expressions[0].outputs.vector)
    assert layer.crs.to_epsg() == 4326
    assert layer.area_m2.iloc[0] == pytest.approx(30 * 30 * 1.11 * 0.787, rel=0.03)


def test_rotated_transform_outputs_keep_the_rotation_and_true_areas(geotiff, stub, make_squares, tmp_path):
    # 20 degrees of grid rotation, 0.5 m pixels: windows stay in pixel space, outputs carry
    # the rotated transform, and polygons are the mask's pixels in map coordinates.
    rotated = Affine.translation(480_000, 5_120_000) * Affine.rotation(20) * Affine.scale(0.5, -0.5)
    scene = geotiff(make_squares((120, 160), [(40, 60, 40, 40, 255)]), transform=tuple(rotated)[:6])
    result = run(scene, tmp_path / "out", stub(), coarse=False)
    assert result.reading["source_gsd_m"] == pytest.approx(0.5)
    paths = result.expressions[0].outputs
    mask, profile = read(paths.mask)
    assert profile["transform"].almost_equals(rotated) and profile["tags"]["LAYOUT"] == "COG"
    assert int((mask == 1).sum()) == 40 * 40
    layer = gpd.read_file(paths.vector, layer=paths.vector.stem)
    assert layer.area.sum() == pytest.approx(40 * 40 * 0.25) == layer.area_m2.sum()
    rows, cols = np.nonzero(mask == 1)
    xs, ys = rotated * (cols + 0.5, rows + 0.5)
    assert shapely.contains_xy(layer.geometry.union_all(), xs, ys).all()


PALETTE = {0: (0, 0, 0, 255), 1: (255, 255, 255, 255), 2: (40, 40, 40, 255), 3: (0, 0, 0, 0)}


def _palette_vrt(tif: Path) -> Path:
    """A VRT over ``tif`` whose colour table keeps alpha (TIFF colour tables have none)."""
    with rasterio.open(tif) as src:
        geotransform = ", ".join(repr(v) for v in src.transform.to_gdal())
        width, height, wkt = src.width, src.height, src.crs.to_wkt()
    entries = "".join(f'<Entry c1="{r}" c2="{g}" c3="{b}" c4="{a}"/>' for r, g, b, a in PALETTE.values())
    vrt = tif.with_suffix(".vrt")
    vrt.write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{wkt}</SRS>'
        f"<GeoTransform>{geotransform}</GeoTransform>"
        f'<VRTRasterBand dataType="Byte" band="1"><ColorInterp>Palette</ColorInterp><ColorTable>{entries}</ColorTable>'
        f'<SimpleSource><SourceFilename relativeToVRT="1">{tif.name}</SourceFilename><SourceBand>1</SourceBand>'
        f"</SimpleSource></VRTRasterBand></VRTDataset>"
    )
    return vrt


@pytest.mark.parametrize("invalid", ["nodata index", "transparent colour"])
def test_paletted_scene_is_segmented_by_its_colours(geotiff, stub, tmp_path, invalid):
    # Index 1 is white, 2 dark grey: read as values, every index is near black (no mask at
    # all); expanded, the white square is the object. Index 3 (a left strip) is not data:
    # the declared nodata of a GeoTIFF, or a colour with alpha 0 (here through a VRT).
    indices = np.full((120, 160), 2, dtype=np.uint8)
    indices[40:80, 60:100] = 1
    indices[:, :10] = 3
    scene = geotiff(indices, name="paletted.tif", nodata=3 if invalid == "nodata index" else None)
    with rasterio.open(scene, "r+") as dst:
        dst.write_colormap(1, PALETTE)
    if invalid == "transparent colour":
        scene = _palette_vrt(scene)
    result = run(scene, tmp_path / "out", stub(), coarse=True)
    mask, _ = read(result.expressions[0].outputs.mask)
    expected = np.zeros((120, 160), dtype=np.uint8)
    expected[40:80, 60:100] = 1
    expected[:, :10] = MASK_NODATA
    np.testing.assert_array_equal(mask, expected)


def test_paletted_reads_give_table_colours_at_any_scale(geotiff):
    from rasterio.windows import Window

    from geocrobim.raster import compute_stretch, open_scene, read_decimated, read_window

    indices = np.tile(np.array([[1, 3], [3, 1]], dtype=np.uint8), (32, 32))  # a 1 px checkerboard
    path = geotiff(indices, name="checker.tif")
    with rasterio.open(path, "r+") as dst:  # averaged indices (2) would turn green
        dst.write_colormap(1, {1: (255, 0, 0, 255), 2: (0, 255, 0, 255), 3: (0, 0, 255, 255)})
    scene = open_scene(path)
    assert scene.paletted == (1,) and scene.palette[1] == (255, 0, 0, 255)
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        rgb, valid = read_window(src, scene, Window(0, 0, 64, 64), stretch, out_shape=(16, 16))
        decimated, _ = read_decimated(src, scene, (16, 16), resampling=rasterio.enums.Resampling.average)
    # Downsampled reads (bilinear, average) must not mix colours: averaged indices 1 and 3
    # would be 2, green, and so would averaged-then-looked-up colours; every pixel is red or blue.
    for image in (rgb, decimated):
        assert image.shape == (3, 16, 16) and image.dtype == np.uint8
        assert {tuple(c) for c in image.reshape(3, -1).T.tolist()} <= {(255, 0, 0), (0, 0, 255)}
    assert valid.all()


def test_crs_without_an_epsg_code_reaches_every_output(geotiff, stub, make_squares, tmp_path):
    # samgeo#12: set_crs(epsg=crs.to_epsg()) crashed on CRSs without an EPSG code.
    laea = "+proj=laea +lat_0=52 +lon_0=10.3 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m +no_defs"
    scene = geotiff(make_squares((120, 160), [(40, 60, 40, 40, 255)]), crs=laea)
    result = run(scene, tmp_path / "out", stub(), probabilities=True)
    expected = rasterio.crs.CRS.from_proj4(laea)
    assert expected.to_epsg() is None and rasterio.crs.CRS.from_wkt(result.crs) == expected
    paths = result.expressions[0].outputs
    for raster in (paths.mask, paths.probabilities):
        with rasterio.open(raster) as out:
            assert out.crs == expected
    layer = gpd.read_file(paths.vector, layer=paths.vector.stem)
    assert len(layer) == 1 and rasterio.crs.CRS.from_wkt(layer.crs.to_wkt()) == expected
    assert layer.area_m2.iloc[0] == pytest.approx(40 * 40 * 0.25)


def test_scene_without_crs_warns_and_writes_pixel_space_outputs(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((64, 64), [(10, 10, 20, 20, 255)]), crs=None, transform=(1, 0, 0, 0, 1, 0))
    result = run(scene, tmp_path / "out", stub(), coarse=False)
    assert result.crs is None and any("no CRS" in w for w in result.warnings)
    with rasterio.open(result.expressions[0].outputs.mask) as src:
        assert src.crs is None and src.shape == (64, 64)


@pytest.mark.parametrize("name", ["hro_rgb_crop.tif", "landsat8_b4_crop.tif", "shade_crop.tif"])
def test_real_rasters(stub, tmp_path, name):
    # Striped NAD83 UTM RGB with non-square pixels; striped uint16 Landsat; tiled Web Mercator
    # hillshade with nodata 255 and overviews. The stub keeps this about the engine.
    result = run(DATA / name, tmp_path, stub(tile_size=64), ["the large building"], probabilities=True)
    item = result.expressions[0]
    with rasterio.open(DATA / name) as src, rasterio.open(item.outputs.mask) as mask:
        assert (mask.crs, mask.transform, mask.shape) == (src.crs, src.transform, src.shape)
        values = mask.read(1)
        if src.nodata is not None:  # shade: nodata 255 over most of the crop
            invalid = src.read_masks(1) == 0
            assert invalid.any() and (values[invalid] == MASK_NODATA).all()
        assert set(np.unique(values)) <= {0, 1, MASK_NODATA}
    assert result.reading["fine_windows_run"] + result.reading["fine_windows_skipped"] == result.reading[
        "fine_windows_selected"
    ]


def test_failure_leaves_no_output(geotiff, stub, make_squares, tmp_path, monkeypatch):
    scene = geotiff(make_squares((64, 64), [(10, 10, 20, 20, 255)]))

    def broken(images: np.ndarray, expression: int) -> np.ndarray:
        raise RuntimeError("model exploded")

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="model exploded"):
        run(scene, out, stub(response=broken))
    assert files_in(out) == []

    import geocrobim.inference.engine as engine

    def failing_quicklook(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(engine, "write_quicklook", failing_quicklook)
    with pytest.raises(OSError, match="disk full"):
        run(scene, out, stub(), ["one", "two"], probabilities=True)
    assert files_in(out) == []


def test_existing_outputs_are_refused_without_overwrite(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((64, 64), [(10, 10, 20, 20, 255)]))
    first = run(scene, tmp_path, stub(), coarse=False)
    before = first.expressions[0].outputs.mask.stat().st_mtime_ns
    predictor = stub()
    with pytest.raises(OutputError, match="already exists"):
        run(scene, tmp_path, predictor, coarse=False)
    assert predictor.calls == []  # refused before any model work
    assert first.expressions[0].outputs.mask.stat().st_mtime_ns == before
    again = run(scene, tmp_path, stub(), coarse=False, overwrite=True)
    assert again.expressions[0].instances == 1


def test_progress_reports_every_window_and_simplify_min_area_apply(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((100, 100), [(10, 10, 40, 40, 255), (70, 70, 4, 4, 255)]))
    seen: list[tuple[int, int]] = []
    result = run(
        scene, tmp_path / "out", stub(), coarse=False, instances="all", min_area=10.0, simplify=0.5,
        progress=lambda done, total: seen.append((done, total)), vector_format="fgb",
    )
    assert seen[-1][0] == seen[-1][1] == result.reading["windows"]
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:]))
    layer = gpd.read_file(result.expressions[0].outputs.vector)
    assert len(layer) == 1  # the 2 m x 2 m = 4 m2 square is under --min-area 10
    assert result.expressions[0].outputs.vector.suffix == ".fgb"
    mask, _ = read(result.expressions[0].outputs.mask)
    assert not mask[70:74, 70:74].any()  # the mask holds exactly the kept instances


def test_serial_and_threaded_pipelines_write_the_same_probabilities(geotiff, stub, make_squares, tmp_path):
    scene = geotiff(make_squares((150, 170), [(20, 30, 50, 60, 255), (90, 100, 30, 30, 180)]))
    outputs = []
    for readers in (0, 1, 3):
        result = run(scene, tmp_path / f"r{readers}", stub(), probabilities=True, coarse=False, readers=readers,
                     batch_size=3)
        outputs.append(read(result.expressions[0].outputs.probabilities)[0])
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])


def test_fill_holes_fills_small_holes_in_mask_and_polygons(geotiff, stub, make_squares, tmp_path):
    # A 20 m square with a 2 m x 2 m (4 m2) hole; pixels are 0.5 m.
    scene = geotiff(make_squares((100, 100), [(10, 10, 40, 40, 255), (28, 28, 4, 4, 0)]))
    holed = run(scene, tmp_path / "holed", stub(), coarse=False)
    filled = run(scene, tmp_path / "filled", stub(), coarse=False, fill_holes=10.0)
    assert not read(holed.expressions[0].outputs.mask)[0][29:31, 29:31].any()
    assert read(filled.expressions[0].outputs.mask)[0][29:31, 29:31].all()
    assert filled.expressions[0].area_m2 == pytest.approx(holed.expressions[0].area_m2 + 4.0, abs=0.5)
