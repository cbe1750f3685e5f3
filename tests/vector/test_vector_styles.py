"""QGIS styles: raster sidecars (mask / probability), polygon QML, well-formed XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from geocrobim.vector import polygon_qml, sidecar_path, write_raster_style


def _renderer(qml_path) -> ET.Element:
    return ET.parse(qml_path).getroot().find("pipe/rasterrenderer")


def test_mask_style_is_paletted_with_transparent_background(write_raster) -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[10:20, 10:20] = 1
    mask[:, 60:] = 255  # nodata
    path = write_raster(mask, "scene.mask.tif", nodata=255)
    qml = write_raster_style(path)

    assert qml == path.parent / "scene.mask.qml" == sidecar_path(path)  # QGIS: <completeBaseName>.qml
    renderer = _renderer(qml)
    assert renderer.get("type") == "paletted"
    entries = {e.get("value"): int(e.get("alpha")) for e in renderer.iter("paletteEntry")}
    assert entries == {"0": 0, "1": 200}


def test_probability_styles_are_ramps_over_the_value_range(write_raster) -> None:
    ramp = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
    renderer = _renderer(write_raster_style(write_raster(ramp, "p.tif")))
    assert renderer.get("type") == "singlebandpseudocolor"
    assert (renderer.get("classificationMin"), renderer.get("classificationMax")) == ("0", "255")
    first = next(renderer.iter("item"))
    assert first.get("alpha") == "0"  # low probabilities are transparent

    floats = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    renderer = _renderer(write_raster_style(write_raster(floats, "pf.tif")))
    assert (renderer.get("classificationMin"), renderer.get("classificationMax")) == ("0", "1")

    forced = _renderer(write_raster_style(write_raster(ramp, "q.tif"), kind="mask"))
    assert forced.get("type") == "paletted"


def test_polygon_qml_labels_and_escaping() -> None:
    root = ET.fromstring(polygon_qml('the "big" <roof> & co'))
    assert root.get("labelsEnabled") == "1"
    assert root.find("labeling/settings/text-style").get("fieldName") == 'the "big" <roof> & co'
    fill = {o.get("name"): o.get("value") for o in root.iter("Option") if o.get("name")}
    assert fill["color"].endswith(",90") and fill["outline_color"].endswith(",255")  # see-through fill

    plain = ET.fromstring(polygon_qml(None))
    assert plain.get("labelsEnabled") == "0" and plain.find("labeling") is None
