"""The vector layer never imports torch, and `geocrobim vectorize` to GeoPackage never imports pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def test_vectorize_to_geopackage_imports_neither_torch_nor_pandas(write_raster, tmp_path) -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[5:20, 5:20] = 1
    path = write_raster(mask)
    script = f"""
import sys
from geocrobim.cli.main import cli
import geocrobim.qgis_plugin
try:
    cli(["vectorize", {str(path)!r}, "-o", {str(tmp_path / "o.gpkg")!r}], standalone_mode=False)
finally:
    heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"torch", "pandas", "geopandas", "pyarrow", "pyogrio"}})
    print(heavy)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "o.gpkg").exists()
