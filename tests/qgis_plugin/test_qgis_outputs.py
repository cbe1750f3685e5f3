"""Real QGIS opens geocrobim's mask and polygons with the same CRS and extent, styled on first open."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from qgis_helpers import requires_qgis

from geocrobim.vector import polygonize, write_raster_style, write_vector

pytestmark = requires_qgis

TRANSFORM = Affine(0.5, 0.0, 500_100.0, 0.0, -0.5, 5_000_200.0)

OPEN_LAYERS = """
raster = QgsRasterLayer(ARGS["mask"], "mask", "gdal")
vector = QgsVectorLayer(ARGS["vector"], "polygons", "ogr")
renderer = vector.renderer()
labels = vector.labeling().settings().fieldName if vector.labeling() else None
palette = [[c.value, c.color.alpha()] for c in raster.renderer().classes()] if raster.renderer().type() == "paletted" else []
print(json.dumps({
    "raster_valid": raster.isValid(), "raster_crs": raster.crs().authid(),
    "raster_extent": [raster.extent().xMinimum(), raster.extent().yMinimum(), raster.extent().xMaximum(), raster.extent().yMaximum()],
    "raster_renderer": raster.renderer().type(), "palette": palette,
    "vector_valid": vector.isValid(), "vector_crs": vector.crs().authid(), "features": vector.featureCount(),
    "vector_extent": [vector.extent().xMinimum(), vector.extent().yMinimum(), vector.extent().xMaximum(), vector.extent().yMaximum()],
    "renderer": renderer.type(), "fill": list(renderer.symbol().color().getRgb()) if renderer.type() == "singleSymbol" else None,
    "labels": vector.labelsEnabled(), "label_field": labels,
}))
"""


@pytest.fixture
def outputs(tmp_path: Path) -> dict[str, object]:
    """A mask COG-like GeoTIFF with its style, and its polygons as a styled GeoPackage."""
    mask = np.zeros((120, 160), np.uint8)
    mask[10:40, 20:70] = 1
    mask[60:110, 90:150] = 1
    mask[70:80, 100:110] = 0
    mask[:, 155:] = 255  # nodata strip
    mask_path = tmp_path / "scene.roof.mask.tif"
    profile = {"driver": "GTiff", "width": 160, "height": 120, "count": 1, "dtype": "uint8",
               "crs": "EPSG:32633", "transform": TRANSFORM, "nodata": 255, "tiled": True, "blockxsize": 64, "blockysize": 64}
    with rasterio.open(mask_path, "w", **profile) as dst:
        dst.write(mask, 1)
    write_raster_style(mask_path)
    gdf = polygonize(mask_path, attributes={"expression": "the red roof", "score": 0.9})
    vector = write_vector(gdf, tmp_path / "scene.roof.gpkg")
    return {"mask": mask_path, "vector": vector, "gdf": gdf}


def test_mask_and_gpkg_open_styled_with_same_crs_and_extent(pyqgis, outputs) -> None:
    # Without the .qml sidecar, so only the GeoPackage's layer_styles table can style it.
    alone = outputs["vector"].with_name("alone.gpkg")
    shutil.copy(outputs["vector"], alone)
    info = pyqgis(OPEN_LAYERS, mask=str(outputs["mask"]), vector=f"{alone}|layername=scene.roof")
    gdf = outputs["gdf"]

    assert info["raster_valid"] and info["vector_valid"]
    assert info["raster_crs"] == info["vector_crs"] == "EPSG:32633"
    with rasterio.open(outputs["mask"]) as src:
        assert info["raster_extent"] == pytest.approx(list(src.bounds))
    assert info["features"] == len(gdf) == 2
    assert info["vector_extent"] == pytest.approx(list(gdf.total_bounds))
    # styles: the raster's .qml sidecar auto-loads, the GeoPackage's default style applies
    assert info["raster_renderer"] == "paletted"
    assert info["palette"] == [[0.0, 0], [1.0, 200]]
    assert info["renderer"] == "singleSymbol" and info["fill"] == [230, 57, 70, 90]
    assert info["labels"] is True and info["label_field"] == "expression"


@pytest.mark.parametrize("fmt", ["shp", "geojson", "fgb"])
def test_other_formats_open_with_their_sidecar_style(pyqgis, outputs, tmp_path, fmt) -> None:
    path = write_vector(outputs["gdf"], tmp_path / fmt / f"roofs.{fmt}")
    info = pyqgis(OPEN_LAYERS, mask=str(outputs["mask"]), vector=str(path))
    assert info["vector_crs"] == ("EPSG:4326" if fmt == "geojson" else "EPSG:32633")
    assert info["features"] == 2
    assert info["renderer"] == "singleSymbol" and info["fill"] == [230, 57, 70, 90]
    assert info["label_field"] == "expression"


def test_geopackage_passes_gdal_validation_without_version_warning(outputs) -> None:
    validator = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")
    if not validator.exists() or shutil.which("ogrinfo") is None:
        pytest.skip("GDAL's validate_gpkg.py / ogrinfo (python3-gdal, gdal-bin) are not installed")
    check = subprocess.run(["/usr/bin/python3", str(validator), str(outputs["vector"])], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    info = subprocess.run(["ogrinfo", "-so", str(outputs["vector"]), "scene.roof"], capture_output=True, text=True)
    assert info.returncode == 0
    assert "Feature Count: 2" in info.stdout
    assert "partially supported" not in info.stderr  # GDAL 3.6 warns on GeoPackage 1.4, not on 1.2
