"""Stitcher: exact constant output (no seams), smooth blending, masks, georeferencing, bounded memory."""

from __future__ import annotations

import math
import tempfile
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from geocrobim.raster import Stitcher, blend_weights, make_grid

TRANSFORM = Affine(0.5, 0.0, 480_000.0, 0.0, -0.5, 5_120_000.0)


def _stitch(path, width, height, tile, overlap, predict, count=1, order=None, block_size=64, valid=None):
    """Run every grid window through ``predict(window) -> (count, tile, tile)``; return the arrays."""
    windows = make_grid(width, height, tile, overlap)
    stitcher = Stitcher(
        path,
        width=width,
        height=height,
        windows=windows,
        weights=blend_weights(tile, overlap),
        count=count,
        crs=CRS.from_epsg(32633),
        transform=TRANSFORM,
        block_size=block_size,
    )
    with stitcher:
        for window in order(windows) if order else windows:
            stitcher.add(window, predict(window), valid(window) if valid else None)
    with rasterio.open(path) as src:
        return src.read(), src.dataset_mask(), stitcher


@pytest.mark.parametrize("value", [0.3, 0.5, 0.123, 1.0, 0.0])
def test_constant_model_gives_an_exactly_constant_output(tmp_path, value):
    # 0.3 * 255 = 76.5 sits on a rounding boundary: float accumulation would flip it per pixel.
    out, mask, _ = _stitch(
        tmp_path / "p.tif", 437, 301, 96, 24, lambda w: np.full((2, 96, 96), value, dtype=np.float32), count=2
    )
    expected = math.floor(Fraction(float(np.float32(value))) * 255 + Fraction(1, 2))  # exact, half up
    assert (out == expected).all(), np.unique(out)
    assert (mask == 255).all()


@settings(max_examples=40, deadline=None)
@given(
    st.integers(16, 64).flatmap(
        lambda tile: st.tuples(
            st.just(tile), st.integers(0, tile - 1), st.integers(1, 200), st.integers(1, 200), st.integers(0, 255)
        )
    )
)
def test_constant_levels_survive_any_grid(case):
    tile, overlap, width, height, level = case
    with tempfile.TemporaryDirectory() as folder:
        out, mask, _ = _stitch(
            Path(folder) / "p.tif", width, height, tile, overlap,
            lambda w: np.full((1, tile, tile), level, dtype=np.uint8), block_size=16,
        )
    assert (out == level).all() and (mask == 255).all()


def test_window_independent_field_is_reproduced_exactly(tmp_path):
    # Each window predicts the same global field: blending must give back exactly that field.
    height, width = 250, 333
    rows, cols = np.mgrid[0:height, 0:width]
    field = ((np.sin(rows / 17.0) * np.cos(cols / 23.0) + 1) / 2).astype(np.float32)

    def predict(w: Window) -> np.ndarray:
        tile = np.zeros((1, 64, 64), dtype=np.float32)
        part = field[w.row_off : w.row_off + 64, w.col_off : w.col_off + 64]
        tile[0, : part.shape[0], : part.shape[1]] = part
        return tile

    out, _, _ = _stitch(tmp_path / "p.tif", width, height, 64, 16, predict)
    np.testing.assert_array_equal(out[0], np.floor(field.astype(np.float64) * 255 + 0.5).astype(np.uint8))


def test_disagreeing_windows_blend_smoothly(tmp_path):
    # Windows alternate between 0.1 and 0.9 in a checkerboard: the output may not jump at window edges.
    tile, overlap = 64, 32

    def predict(w: Window) -> np.ndarray:
        value = 0.9 if (w.col_off // (tile - overlap) + w.row_off // (tile - overlap)) % 2 else 0.1
        return np.full((1, tile, tile), value, dtype=np.float32)

    out, _, _ = _stitch(tmp_path / "p.tif", 320, 320, tile, overlap, predict)
    image = out[0].astype(int)
    jump = 0.8 * 255
    steepest = jump * np.pi / 2 / overlap  # the raised cosine's steepest slope per pixel
    assert np.abs(np.diff(image, axis=0)).max() <= steepest + 2
    assert np.abs(np.diff(image, axis=1)).max() <= steepest + 2
    assert image.min() < 40 and image.max() > 215  # interiors keep their own value


def test_skipped_windows_stay_zero_and_invalid(tmp_path):
    windows = make_grid(300, 200, 100, 20)
    skipped = {(w.col_off, w.row_off) for w in windows if w.col_off >= 160}
    path = tmp_path / "p.tif"
    weights = blend_weights(100, 20)
    with Stitcher(path, width=300, height=200, windows=windows, weights=weights, block_size=32) as stitcher:
        for w in windows:
            if (w.col_off, w.row_off) in skipped:
                stitcher.skip(w)
            else:
                stitcher.add(w, np.full((1, 100, 100), 0.6, dtype=np.float32))
    with warnings.catch_warnings():  # pixel-space output: rasterio warns on open
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            out, mask = src.read(1), src.dataset_mask()
    covered = np.zeros((200, 300), dtype=bool)
    for w in windows:
        if (w.col_off, w.row_off) not in skipped:
            covered[w.row_off : w.row_off + 100, w.col_off : w.col_off + 100] = True
    assert (out[covered] == 153).all() and (out[~covered] == 0).all()
    np.testing.assert_array_equal(mask > 0, covered)


def test_invalid_pixels_are_zero_and_masked_and_unrun_windows_count_as_valid(tmp_path):
    nodata = np.zeros((200, 200), dtype=bool)
    nodata[50:70, :] = True

    def valid(w: Window) -> np.ndarray:
        v = np.ones((80, 80), dtype=bool)
        part = nodata[w.row_off : w.row_off + 80, w.col_off : w.col_off + 80]
        v[: part.shape[0], : part.shape[1]] &= ~part
        return v

    windows = make_grid(200, 200, 80, 20)
    path = tmp_path / "p.tif"
    weights = blend_weights(80, 20)
    with Stitcher(path, width=200, height=200, windows=windows, weights=weights, block_size=16) as stitcher:
        for w in windows:
            # Windows in the right column were not run (a coarse pass ruled them out).
            probs = None if w.col_off >= 120 else np.full((80, 80), 0.8, dtype=np.float32)
            stitcher.add(w, probs, valid(w))
    with warnings.catch_warnings():  # pixel-space output: rasterio warns on open
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            out, mask = src.read(1), src.dataset_mask()
    assert (mask[50:70] == 0).all() and (out[50:70] == 0).all()
    assert (mask[:50] == 255).all() and (mask[70:] == 255).all()
    assert (out[:50, :120] == 204).all()
    assert (out[:50, 200 - 1] == 0).all()  # valid, not run: probability 0


def test_the_mask_band_appears_with_the_first_invalid_pixel(tmp_path):
    from rasterio.enums import MaskFlags

    # All valid: no mask band at all (readers then skip mask reads), every pixel valid.
    path = tmp_path / "valid.tif"
    _stitch(path, 130, 200, 64, 16, lambda w: np.full((1, 64, 64), 0.5, dtype=np.float32), block_size=16)
    with rasterio.open(path) as src:
        assert src.mask_flag_enums == ([MaskFlags.all_valid],)
        assert (src.dataset_mask() == 255).all()
    # Invalid pixels only near the bottom: the rows flushed before them are filled as valid.
    nodata = np.zeros((200, 130), dtype=bool)
    nodata[170:180, 20:40] = True

    def valid(w: Window) -> np.ndarray:
        v = np.ones((64, 64), dtype=bool)
        part = nodata[w.row_off : w.row_off + 64, w.col_off : w.col_off + 64]
        v[: part.shape[0], : part.shape[1]] &= ~part
        return v

    path = tmp_path / "late.tif"
    _stitch(path, 130, 200, 64, 16, lambda w: np.full((1, 64, 64), 0.5, dtype=np.float32), block_size=16, valid=valid)
    with rasterio.open(path) as src:
        assert src.mask_flag_enums == ([MaskFlags.per_dataset],)
        np.testing.assert_array_equal(src.dataset_mask() == 0, nodata)


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_bands_are_expressions_never_colours_or_alpha(tmp_path, count):
    from rasterio.enums import ColorInterp, MaskFlags

    # The last expression's probability is 0 everywhere: GDAL must not read it as an alpha band
    # (it did for 4 bands), which made every pixel of the other expressions invalid.
    def predict(window: Window) -> np.ndarray:
        probs = np.full((count, 64, 64), 0.75, dtype=np.float32)
        probs[-1] = 0.0
        return probs

    out, mask, _ = _stitch(tmp_path / "p.tif", 130, 90, 64, 16, predict, count=count)
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.mask_flag_enums == tuple([MaskFlags.all_valid] for _ in range(count))
        assert ColorInterp.alpha not in src.colorinterp and ColorInterp.red not in src.colorinterp
        assert all((src.read_masks(b) == 255).all() for b in range(1, count + 1))
    assert (mask == 255).all() and (out[:-1] == 191).all() and (out[-1] == 0).all()


def test_output_keeps_crs_transform_and_is_tiled(tmp_path):
    path = tmp_path / "p.tif"
    _stitch(path, 130, 90, 64, 16, lambda w: np.full((1, 64, 64), 0.5, dtype=np.float32))
    with rasterio.open(path) as src:
        assert src.crs == CRS.from_epsg(32633)
        assert src.transform == TRANSFORM
        assert (src.width, src.height, src.count, src.dtypes[0]) == (130, 90, 1, "uint8")
        assert src.profile["tiled"] and src.block_shapes[0] == (64, 64)


def test_small_raster_single_padded_window(tmp_path):
    out, mask, _ = _stitch(tmp_path / "p.tif", 50, 30, 64, 16, lambda w: np.full((1, 64, 64), 0.25, dtype=np.float32))
    assert out.shape == (1, 30, 50) and (out == 64).all() and (mask == 255).all()


def test_out_of_order_arrival_gives_the_same_result(tmp_path, rng):
    noise = {}

    def predict(w: Window) -> np.ndarray:
        key = (w.col_off, w.row_off)
        if key not in noise:
            noise[key] = rng.random((1, 64, 64)).astype(np.float32)
        return noise[key]

    a, _, _ = _stitch(tmp_path / "a.tif", 300, 260, 64, 16, predict)
    b, _, stitcher = _stitch(tmp_path / "b.tif", 300, 260, 64, 16, predict, order=lambda ws: list(reversed(ws)))
    np.testing.assert_array_equal(a, b)
    assert stitcher.peak_buffer_bytes >= 260 * 300 * 4  # reversed order had to hold everything


def test_uint8_probabilities_are_accepted(tmp_path):
    out, _, _ = _stitch(tmp_path / "p.tif", 100, 100, 64, 16, lambda w: np.full((1, 64, 64), 200, dtype=np.uint8))
    assert (out == 200).all()


def test_buffer_does_not_grow_with_raster_height(tmp_path):
    width, tile, overlap, block = 256, 128, 32, 64
    peaks = []
    for height in (600, 2400, 6000):
        _, _, stitcher = _stitch(
            tmp_path / f"p{height}.tif", width, height, tile, overlap,
            lambda w: np.full((1, tile, tile), 0.5, dtype=np.float32), block_size=block,
        )
        peaks.append(stitcher.peak_buffer_bytes)
    # uint32 weighted sum + uint32 weight sum + bool valid over (tile + block) rows, whatever the height.
    assert peaks == [(tile + block) * width * (4 + 4 + 1)] * 3


@settings(max_examples=40, deadline=None)
@given(
    st.integers(16, 48).flatmap(
        lambda tile: st.tuples(
            st.just(tile), st.integers(0, tile - 1), st.integers(1, 160), st.integers(1, 160),
            st.integers(1, 12), st.integers(1, 2), st.booleans(), st.integers(0, 2**32 - 1),
        )
    )
)
def test_batches_blend_exactly_like_single_windows(case):
    # add_many blends rows of non-overlapping windows through strided views: bit-identical to add().
    tile, overlap, width, height, batch, count, sparse, seed = case
    rng = np.random.default_rng(seed)
    windows = make_grid(width, height, tile, overlap)
    if sparse:  # the subset a coarse pass chooses: irregular steps
        windows = [w for w in windows if rng.random() < 0.6] or windows[:1]
    probs = rng.integers(0, 256, (len(windows), count, tile, tile), dtype=np.uint8)
    valid = rng.random((len(windows), tile, tile)) < 0.9
    outputs = []
    with tempfile.TemporaryDirectory() as folder:
        for many in (False, True):
            path = Path(folder) / f"{many}.tif"
            with Stitcher(
                path, width=width, height=height, windows=windows, weights=blend_weights(tile, overlap),
                count=count, block_size=16,
            ) as stitcher:
                for start in range(0, len(windows), batch):
                    part = slice(start, start + batch)
                    if many:
                        stitcher.add_many(windows[part], probs[part], valid[part])
                    else:
                        for window, p, v in zip(windows[part], probs[part], valid[part], strict=True):
                            stitcher.add(window, p, v)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(path) as src:
                    outputs.append((src.read(), src.dataset_mask()))
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


def test_a_batch_of_a_grid_row_is_blended_in_two_lanes(tmp_path):
    windows = make_grid(1000, 200, 64, 16)
    stitcher = Stitcher(tmp_path / "p.tif", width=1000, height=200, windows=windows, weights=blend_weights(64, 16))
    keys = [(int(w.col_off), int(w.row_off), 64, 64) for w in windows[:8]]
    lanes, alone = stitcher._lanes(keys)
    assert lanes == [[0, 2, 4, 6], [1, 3, 5, 7]] and alone == []  # every other window: steps of 96 >= 64
    stitcher.close()


def test_errors_for_misuse(tmp_path):
    windows = make_grid(100, 100, 64, 16)
    stitcher = Stitcher(tmp_path / "p.tif", width=100, height=100, windows=windows, weights=blend_weights(64, 16))
    with pytest.raises(ValueError, match="not announced"):
        stitcher.add(Window(5, 5, 64, 64), None)
    with pytest.raises(ValueError, match="shape"):
        stitcher.add(windows[0], np.zeros((2, 64, 64), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        stitcher.add_many(windows[:2], np.zeros((2, 2, 64, 64), dtype=np.float32))
    with pytest.raises(RuntimeError, match="never added"):
        stitcher.finish()
    stitcher.close()
    with pytest.raises(ValueError, match="positive"):
        Stitcher(tmp_path / "q.tif", width=10, height=10, windows=[], weights=np.zeros((4, 4)))


def test_extreme_overlap_does_not_overflow(tmp_path):
    # stride 2: ~32 x 32 windows over a pixel; integer weights must shrink, not wrap around.
    out, _, _ = _stitch(tmp_path / "p.tif", 90, 90, 64, 62, lambda w: np.full((1, 64, 64), 1.0, dtype=np.float32))
    assert (out == 255).all()
