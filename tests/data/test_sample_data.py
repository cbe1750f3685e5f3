"""sample_data/ is the README scene, and still what its documented command generates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio

from geocrobim.data.synthetic import SAMPLE_EXPRESSION, sample_layout

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_sample_scene_and_masks() -> None:
    index = json.loads((SAMPLE / "scene.json").read_text())
    with rasterio.open(SAMPLE / "scene.tif") as src:
        assert src.crs.to_epsg() == 32633 and src.res == (0.5, 0.5)
        assert (src.width, src.height, src.count) == (2048, 2048, 3)
        assert src.overviews(1) == [2, 4, 8]
        transform = src.transform
    first = index["expressions"][0]
    assert first["text"] == SAMPLE_EXPRESSION and first["category"] == "warehouse"
    for entry in index["expressions"]:
        with rasterio.open(SAMPLE / entry["mask"]) as m:
            assert m.transform == transform and m.crs.to_epsg() == 32633
            mask = m.read(1)
        rows, cols = np.nonzero(mask)
        assert [int(cols.min()), int(rows.min())] == entry["bbox_px"][:2]
    assert sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file()) < 4 * 2**20


def test_sample_target_is_what_the_generator_stages() -> None:
    """Regenerating the layout with the documented seed names the same object (else regenerate sample_data)."""
    index = json.loads((SAMPLE / "scene.json").read_text())
    layout, ref = sample_layout(index["seed"], index["width"] * index["gsd"], gsd=index["gsd"])
    assert ref.target_id == index["expressions"][0]["target_id"]
    target = next(o for o in index["objects"] if o["id"] == ref.target_id)
    assert target["category"] == "warehouse" and target["colour"] == "red"
    assert layout.objects[ref.target_id].colour == "red"
