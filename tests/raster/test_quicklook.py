"""Quicklook PNG: the scene, the object drawn to read on any ground, a detail inset for a small
object, and a caption band with the expression, the score and a scale."""

from __future__ import annotations

import numpy as np
from PIL import Image

from geocrobim.raster import QuicklookCaption, compute_stretch, open_scene, render_quicklook, write_quicklook
from geocrobim.raster.quicklook import DETAIL_SIZE
from geocrobim.raster.quicklook_draw import BAND, FRAME, OUTLINE, TEXT, fit_text, nice_length, outline, wrap_text

CAPTION = QuicklookCaption("the large grey hall", 0.83, 1)


def colour(image: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    return (image == np.asarray(rgb, dtype=np.uint8)).all(axis=-1)


def box(where: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(where)
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def test_outline_of_a_square():
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:8, 3:9] = True
    edge = outline(mask)
    assert edge.sum() == 2 * 6 + 2 * 4
    assert not edge[3:7, 4:8].any()


def ramp_scene(geotiff):
    """A 1600 x 1200 grey ramp (0.5 m), its top 100 rows nodata, and a mask of an 800 x 400 px object."""
    data = np.broadcast_to(1000 + np.arange(1200, dtype=np.uint16)[:, None], (3, 1200, 1600)).copy()
    data[:, :100] = 0
    mask = np.zeros((1, 1200, 1600), dtype=np.uint8)
    mask[0, 400:800, 400:1200] = 1
    return open_scene(geotiff(data, nodata=0)), geotiff(mask, name="mask.tif", nodata=255)


def test_the_object_is_filled_and_outlined_over_a_dark_halo(geotiff, tmp_path):
    scene, mask_path = ramp_scene(geotiff)
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        bare = render_quicklook(src, scene, stretch, max_size=400)
        image = render_quicklook(src, scene, stretch, mask_path, max_size=400)
        png = write_quicklook(tmp_path / "q.png", src, scene, stretch, mask_path, max_size=400)
    assert image.shape == bare.shape == (300, 400, 3) and image.dtype == np.uint8
    assert box(colour(image, OUTLINE)) == (100, 199, 100, 299)  # the object's edge in the overview
    assert colour(image[99, 100:300], (0, 0, 0)).all() and colour(image[100:200, 99], (0, 0, 0)).all()  # halo outside
    assert colour(image[101, 102:298], (0, 0, 0)).all()  # and inside the outline
    inside, scene_px = image[150, 200].astype(int), bare[150, 200].astype(int)
    assert inside[0] > scene_px[0] and inside[2] < scene_px[2]  # a translucent yellow fill: the ground shows through
    np.testing.assert_array_equal(image[250:], bare[250:])  # nothing drawn away from the object
    assert (image[:25] == 64).all()  # nodata rows are dimmed grey
    with Image.open(png) as reread:
        assert reread.size == (400, 300) and reread.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(reread), image)


def test_the_caption_band_says_what_was_found_with_a_scale_bar(geotiff):
    scene, mask_path = ramp_scene(geotiff)
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        plain = render_quicklook(src, scene, stretch, mask_path, max_size=400)
        image = render_quicklook(src, scene, stretch, mask_path, max_size=400, caption=CAPTION)
    assert image.shape[1] == 400 and image.shape[0] > 300 + 3 * 15  # taller than the scene's 4:3
    np.testing.assert_array_equal(image[:300], plain)
    band = image[300:]
    assert colour(band, BAND).mean() > 0.7 and colour(band, TEXT).sum() > 200  # dark band, light text
    # The scale bar: 2 m per overview pixel, at most a quarter of 400 px -> 200 m, 100 px.
    runs = [_longest_run(colour(row, TEXT)) for row in band]
    assert max(runs) == 100
    assert CAPTION.lines() == ['"the large grey hall"', "found: score 0.83, 1 instance"]


def test_nothing_found_is_said_in_the_caption(geotiff):
    nothing = QuicklookCaption("the pond", None, 0, "not found: no pixel reached probability 0.5: empty mask, empty layer")
    assert nothing.lines()[1] == "not found: no pixel reached probability 0.5: empty mask, empty layer"
    assert QuicklookCaption("the pond", None).lines()[1] == "not found"
    rejected = QuicklookCaption("the pond", 0.12, 0, "not found: the best candidate (score 0.12, at 5.0, 6.0) is under ...")
    assert rejected.lines()[1].startswith("not found: the best candidate (score 0.12")  # never "found: ... 0 instances"
    scene = open_scene(geotiff(np.full((3, 200, 250), 120, np.uint8)))
    empty = geotiff(np.zeros((1, 200, 250), np.uint8), name="empty.tif", nodata=255)
    with scene.open() as src:
        image = render_quicklook(src, scene, compute_stretch(src, scene), empty, caption=nothing)
    assert image.shape[1] == 500 and image.shape[0] > 400  # enlarged 2x, no detail, a caption band
    with scene.open() as src:
        found = render_quicklook(src, scene, compute_stretch(src, scene), empty, caption=CAPTION)
    assert (found[400:] != image[400:]).any()  # the caption's text differs
    assert not colour(image, OUTLINE).any() and not colour(image, FRAME).any()


def test_a_small_object_gets_a_detail_at_source_resolution(geotiff):
    rng = np.random.default_rng(3)
    data = rng.integers(60, 120, (3, 2000, 3000)).astype(np.uint8)
    data[:, 1500:1512, 2100:2112] = 250  # a 12 x 12 px (6 m) bright object
    mask = np.zeros((1, 2000, 3000), dtype=np.uint8)
    mask[0, 1500:1512, 2100:2112] = 1
    scene = open_scene(geotiff(data))
    mask_path = geotiff(mask, name="mask.tif", nodata=255)
    left, top = 480_000 + 2100 * 0.5, 5_120_000 - 1500 * 0.5
    with scene.open() as src:
        stretch = compute_stretch(src, scene)
        for focus in (None, (left, top - 6, left + 6, top)):  # from the mask, or the engine's polygon bounds
            image = render_quicklook(src, scene, stretch, mask_path, caption=CAPTION, focus=focus)
            overview_w = 1024
            assert image.shape[1] == overview_w + 8 + DETAIL_SIZE
            detail = image[:DETAIL_SIZE, overview_w + 8 :]
            rows0, rows1, cols0, cols1 = box(colour(detail, OUTLINE))
            assert min(rows1 - rows0, cols1 - cols0) >= 80  # 12 source px, 8x: legible
            assert colour(detail[0], FRAME).all()  # the detail's frame
            # on the overview, a cyan box marks where the detail is, around the object (at 1024/3000)
            r0, r1, c0, c1 = box(colour(image[:683, :overview_w], FRAME))
            assert r0 <= 1506 * 1024 / 3000 <= r1 and c0 <= 2106 * 1024 / 3000 <= c1 and r1 - r0 < 40


def flat_scene_with_object(geotiff, shape: tuple[int, int], rows: slice, cols: slice) -> np.ndarray:
    """The quicklook of a flat grey (90) scene of ``shape`` with an object at ``rows, cols``."""
    scene = open_scene(geotiff(np.full((3, *shape), 90, np.uint8)))
    mask = np.zeros((1, *shape), dtype=np.uint8)
    mask[0, rows, cols] = 1
    with scene.open() as src:
        return render_quicklook(src, scene, compute_stretch(src, scene), geotiff(mask, name="m.tif", nodata=255))


def test_a_detail_taller_than_a_strip_of_a_scene_is_padded(geotiff):
    image = flat_scene_with_object(geotiff, (40, 2000), slice(18, 22), slice(1000, 1004))
    detail = image[:DETAIL_SIZE, 1024 + 8 :]
    rows0, rows1, cols0, cols1 = box(colour(detail, OUTLINE))  # 4 px at 8x, in the middle of a 64 px window
    assert (rows1 - rows0, cols1 - cols0) == (31, 31) and abs((rows0 + rows1) / 2 - DETAIL_SIZE / 2) < 8
    assert (detail[10:90, 100] == 64).all() and (detail[100:400, 100] == 90).all()  # 12 rows above the strip: grey


def test_a_small_scene_is_enlarged_to_be_seen(geotiff):
    image = flat_scene_with_object(geotiff, (60, 64), slice(10, 20), slice(30, 40))
    assert image.shape == (480, 512, 3)  # 8x, nearest
    assert box(colour(image, OUTLINE)) == (80, 159, 240, 319)


def test_scale_bar_lengths_and_fitted_text():
    assert [nice_length(m) for m in (0.7, 9.9, 10, 260, 4999)] == [0.5, 5, 10, 200, 2000]
    assert fit_text("short", 500) == "short"
    cut = fit_text("a very long expression " * 20, 200)
    assert cut.endswith("...") and len(cut) < 100
    assert wrap_text("nothing found: no pixel reached probability 0.5", 1000) == [
        "nothing found: no pixel reached probability 0.5"]
    first, second = wrap_text("nothing found: no pixel reached probability 0.5: empty mask, empty layer", 360)
    assert first.startswith("nothing found") and not first.endswith("...") and second.endswith("layer")
    rows = wrap_text("word " * 200, 200)
    assert len(rows) == 2 and rows[1].endswith("...")


def _longest_run(row: np.ndarray) -> int:
    best = current = 0
    for value in row:
        current = current + 1 if value else 0
        best = max(best, current)
    return best
