"""A GDAL VRT mosaic of single-band rasters that share one CRS, written as XML.

What ``gdalbuildvrt`` does for our masks, without the GDAL Python bindings: one
``ComplexSource`` per raster, placed by ``SrcRect``/``DstRect`` on a north-up grid that
covers them all at the finest resolution among them (aligned on the first such
raster's pixel grid); source paths relative to the VRT,
so the mosaic moves with its folder. The sources' nodata is declared per source (so a
scene's invalid border never hides its neighbour) and on the band. Where scenes
overlap, the later source (by scene id) wins.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rasterio
from rasterio.crs import CRS

from geocrobim.errors import RasterError
from geocrobim.raster import atomic_path

#: Tolerance, in pixels, under which an extent is not rounded up to one more pixel.
_EPS = 1e-6


def write_vrt(sources: Sequence[Path], path: Path, *, nodata: float | None = 255) -> Path:
    """Write a VRT mosaic of ``sources`` at ``path`` (atomically, replacing it).

    Args:
        sources: single-band rasters, same CRS, same dtype, north-up.
        path: the ``.vrt`` file.
        nodata: the band's (and every source's) nodata value.

    Returns:
        ``path``.

    Raises:
        RasterError: no source, mixed CRS or dtypes, or a rotated grid.
    """
    if not sources:
        raise RasterError(f"no raster to mosaic into {path}")
    infos = [_describe(Path(s)) for s in sources]
    crs: CRS = infos[0]["crs"]
    if any(i["crs"] != crs for i in infos) or len({i["dtype"] for i in infos}) > 1:
        raise RasterError(f"rasters for {path.name} differ in CRS or data type; reproject them first")
    res_x = min(i["transform"].a for i in infos)
    res_y = min(-i["transform"].e for i in infos)
    # The grid is the first finest source's, extended outwards: sources on that grid keep
    # whole-pixel offsets and are copied, not resampled.
    anchor = next(i["bounds"] for i in infos if i["transform"].a == res_x)
    left = anchor.left - math.ceil((anchor.left - min(i["bounds"].left for i in infos)) / res_x - _EPS) * res_x
    top = anchor.top + math.ceil((max(i["bounds"].top for i in infos) - anchor.top) / res_y - _EPS) * res_y
    width = math.ceil((max(i["bounds"].right for i in infos) - left) / res_x - _EPS)
    height = math.ceil((top - min(i["bounds"].bottom for i in infos)) / res_y - _EPS)

    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    ET.SubElement(root, "SRS", dataAxisToSRSAxisMapping="1,2").text = crs.to_wkt()
    ET.SubElement(root, "GeoTransform").text = ", ".join(repr(v) for v in (left, res_x, 0.0, top, 0.0, -res_y))
    band = ET.SubElement(root, "VRTRasterBand", dataType=_GDAL_TYPES[infos[0]["dtype"]], band="1")
    if nodata is not None:
        ET.SubElement(band, "NoDataValue").text = repr(float(nodata))
    ET.SubElement(band, "ColorInterp").text = "Gray"
    for info in infos:
        band.append(_source(info, path.parent, left, top, res_x, res_y, nodata))
    ET.indent(root)
    with atomic_path(path, overwrite=True) as tmp:
        ET.ElementTree(root).write(tmp, encoding="unicode")
    return path


def _describe(path: Path) -> dict[str, Any]:
    with rasterio.open(path) as src:
        if src.count != 1:
            raise RasterError(f"{path} has {src.count} bands; the mosaic takes single-band rasters")
        t = src.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            raise RasterError(f"{path} is not north-up (rotated or flipped grid); reproject it first")
        return {
            "path": path.resolve(), "crs": src.crs, "transform": t, "bounds": src.bounds,
            "width": src.width, "height": src.height, "dtype": src.dtypes[0], "block": src.block_shapes[0],
        }


def _source(info: dict[str, Any], folder: Path, left: float, top: float, res_x: float, res_y: float,
            nodata: float | None) -> ET.Element:
    source = ET.Element("ComplexSource")
    relative = Path(os.path.relpath(info["path"], folder)).as_posix()
    ET.SubElement(source, "SourceFilename", relativeToVRT="1").text = relative
    ET.SubElement(source, "SourceBand").text = "1"
    block_y, block_x = info["block"]
    ET.SubElement(
        source, "SourceProperties", RasterXSize=str(info["width"]), RasterYSize=str(info["height"]),
        DataType=_GDAL_TYPES[info["dtype"]], BlockXSize=str(block_x), BlockYSize=str(block_y),
    )
    ET.SubElement(source, "SrcRect", xOff="0", yOff="0", xSize=str(info["width"]), ySize=str(info["height"]))
    t, bounds = info["transform"], info["bounds"]
    ET.SubElement(
        source, "DstRect",
        xOff=repr((bounds.left - left) / res_x), yOff=repr((top - bounds.top) / res_y),
        xSize=repr(info["width"] * t.a / res_x), ySize=repr(info["height"] * -t.e / res_y),
    )
    if nodata is not None:
        ET.SubElement(source, "NODATA").text = repr(float(nodata))
    return source


_GDAL_TYPES = {
    "uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32", "int32": "Int32",
    "float32": "Float32", "float64": "Float64",
}
