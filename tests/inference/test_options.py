"""SegmentOptions: one typed definition behind segment, batch, the worker and --resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from geocrobim.batch.fingerprint import options_hash
from geocrobim.choices import INSTANCE_CHOICES, VECTOR_FORMATS
from geocrobim.cli.batch import batch
from geocrobim.cli.segment import segment
from geocrobim.errors import UsageError
from geocrobim.inference.options import SegmentOptions, flags
from geocrobim.vector import FORMATS


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": 0}, "batch size 0 must be a whole number >= 1, e.g. 8"),
        ({"batch_size": True}, "batch size True must be a whole number >= 1"),
        ({"readers": -1}, "readers -1 must be a whole number >= 0"),
        ({"instances": "some"}, "--instances 'some' is not one of best, all"),
        ({"vector_format": "kml"}, "vector format 'kml' is not supported; use one of gpkg, geojson, shp, fgb, parquet"),
        ({"simplify": -1.0}, "--simplify -1.0 must be a number >= 0"),
        ({"min_area": float("nan")}, "--min-area nan must be a number >= 0"),
        ({"fill_holes": -1}, "--fill-holes -1 must be a number >= 0"),
        ({"device": "tpu"}, "unknown device 'tpu'; use auto, cpu, cuda or cuda:N"),
    ],
)
def test_bad_values_are_refused_in_one_line(values, message) -> None:
    with pytest.raises(UsageError) as info:
        SegmentOptions(**values)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_values_are_normalised_so_equal_options_compare_equal() -> None:
    options = SegmentOptions(checkpoint=Path("ckpt"), bands=[4, 3, 2], value_range=[0, 3000], vector_format="GPKG")
    assert options == SegmentOptions(checkpoint="ckpt", bands=(4, 3, 2), value_range=(0, 3000), vector_format="gpkg")
    assert SegmentOptions(device="cuda:1").device == "cuda:1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.gsd = 1.0  # type: ignore[misc]  # frozen: the point of the test


def test_identity_is_what_changes_the_outputs() -> None:
    # The batch options' keys before the options object was shared, plus fill_holes, min_score, scene_words and tta: the
    # model (hashed on its own), the device and the speed knobs are out.
    assert set(SegmentOptions().identity()) == {
        "bands", "gsd", "tile_size", "overlap", "instances", "coarse", "probabilities", "vector_format", "simplify",
        "min_area", "value_range", "fill_holes", "min_score", "scene_words", "tta",
    }
    base = options_hash(["a"], SegmentOptions().identity())
    assert options_hash(["a"], SegmentOptions(batch_size=2, readers=0, device="cpu", checkpoint="x").identity()) == base
    assert options_hash(["a"], SegmentOptions(min_area=1.0).identity()) != base
    assert options_hash(["a"], SegmentOptions(min_score=0.0).identity()) != base
    assert options_hash(["a"], SegmentOptions(scene_words=False).identity()) != base
    assert options_hash(["a"], SegmentOptions(tta=False).identity()) != base  # None: the model's choice


def test_segment_and_batch_offer_every_flag_of_the_options() -> None:
    names = {name for name, _, _ in flags()}
    assert names == {f.name for f in dataclasses.fields(SegmentOptions)} - {"readers"}  # readers: library only
    for command in (segment, batch):
        params = {p.name: p for p in command.params}
        assert names <= set(params), command.name
        assert list(params["vector_format"].type.choices) == list(VECTOR_FORMATS)
        assert list(params["instances"].type.choices) == list(INSTANCE_CHOICES)


def test_choices_match_the_vector_writers() -> None:
    assert tuple(FORMATS) == VECTOR_FORMATS
    assert all(FORMATS[name].extension == f".{name}" for name in VECTOR_FORMATS)  # outputs.vector_extension relies on it
