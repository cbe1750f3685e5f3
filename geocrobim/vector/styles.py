"""QGIS styles, so masks and polygons open styled on first load.

- Rasters: a ``.qml`` sidecar with the raster's basename (QGIS looks for
  ``<completeBaseName>.qml``: ``scene.mask.tif`` -> ``scene.mask.qml``). Masks get a paletted
  renderer (background 0 transparent, foreground coloured), probability rasters a ramp from
  transparent to opaque. Nodata stays transparent because the band declares it.
- Polygons: a ``.qml`` sidecar, and for GeoPackages the same QML in the ``layer_styles``
  table with ``useAsDefault=1`` (:func:`geocrobim.vector.gpkg.store_layer_style`), which
  QGIS's OGR provider loads before any sidecar.

Templates live in ``geocrobim/styles/*.qml`` with ``$placeholders``.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path
from string import Template
from typing import Literal
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.enums import Resampling

from geocrobim import atomic
from geocrobim.errors import OutputError
from geocrobim.raster import open_scene

logger = logging.getLogger(__name__)

RasterKind = Literal["auto", "mask", "probability"]

#: Object colour shared by the mask and the polygons (RGB).
OBJECT_RGB = (230, 57, 70)
#: Side of the decimated read used to guess whether a raster is a mask or a probability.
_SAMPLE_SIDE = 512
#: More distinct foreground values than this and an integer raster is treated as a probability.
_MAX_MASK_VALUES = 16


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The ``.qml`` QGIS auto-loads for ``path`` (same folder, same basename)."""
    return Path(path).with_suffix(".qml")


def polygon_qml(label_field: str | None = "expression") -> str:
    """QML for polygon layers: semi-transparent fill, outline, label from ``label_field``.

    Args:
        label_field: attribute to label with; None for no labels.
    """
    red, green, blue = OBJECT_RGB
    labeling = ""
    if label_field:
        labeling = _template("labeling").substitute(field=_attr(label_field), text_color="30,30,30,255")
    return _template("polygons").substitute(
        labels_enabled="1" if label_field else "0",
        fill=f"{red},{green},{blue},90",
        outline=f"{red},{green},{blue},255",
        outline_width="0.6",
        labeling=labeling,
    )


def raster_qml(
    kind: Literal["mask", "probability"],
    *,
    band: int = 1,
    values: list[float] | None = None,
    value_range: tuple[float, float] = (0, 255),
) -> str:
    """QML for a mask (paletted) or a probability raster (ramp).

    Args:
        kind: ``"mask"`` or ``"probability"``.
        band: 1-based band the style renders.
        values: foreground values of a mask (default ``[1]``).
        value_range: (min, max) of a probability raster, e.g. (0, 255) or (0, 1).
    """
    if kind == "mask":
        hexcolor = "#{:02x}{:02x}{:02x}".format(*OBJECT_RGB)
        entries = "\n".join(
            f'        <paletteEntry value="{_number(v)}" color="{hexcolor}" alpha="200" label="object"/>'
            for v in (values or [1])
        )
        return _template("mask").substitute(band=band, entries=entries)
    vmin, vmax = value_range
    return _template("probability").substitute(
        band=band, vmin=_number(vmin), vmid=_number((vmin + vmax) / 2), vmax=_number(vmax)
    )


def write_raster_style(
    raster_path: str | os.PathLike[str], *, kind: RasterKind = "auto", band: int = 1
) -> Path:
    """Write the ``.qml`` sidecar that makes QGIS show a mask or probability raster styled.

    Args:
        raster_path: the raster (a geocrobim mask COG or any single-band raster).
        kind: ``"mask"``, ``"probability"``, or ``"auto"``: float rasters and integer rasters
            with many distinct values are probabilities, the rest masks (from a decimated
            read, not the whole band).
        band: 1-based band to style.

    Returns:
        The sidecar's path (replaced atomically if it existed).
    """
    path = Path(raster_path)
    with open_scene(path, bands=[band]).open() as src:  # one-line errors for bad paths and bands
        values, value_range = _sample_values(src, band)
        dtype = np.dtype(src.dtypes[band - 1])
    if kind == "auto":
        kind = "probability" if dtype.kind == "f" or len(values) > _MAX_MASK_VALUES else "mask"
    if kind == "probability" and dtype == np.uint8:
        value_range = (0.0, 255.0)  # geocrobim's probability COGs are 0-255
    elif kind == "probability" and dtype.kind == "f" and value_range[0] >= 0 and value_range[1] <= 1:
        value_range = (0.0, 1.0)
    qml = raster_qml(kind, band=band, values=values or None, value_range=value_range)
    return write_text_atomic(sidecar_path(path), qml)


def write_polygon_style(vector_path: str | os.PathLike[str], label_field: str | None) -> Path:
    """Write the polygon ``.qml`` sidecar next to a vector file; returns its path."""
    return write_text_atomic(sidecar_path(vector_path), polygon_qml(label_field))


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary name in the same folder."""
    try:
        atomic.write_text(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write style {path} ({exc.strerror or exc}); choose a writable folder") from exc
    return path


def _sample_values(src: rasterio.io.DatasetReader, band: int) -> tuple[list[float], tuple[float, float]]:
    """Distinct valid non-zero values (up to a few) and the valid range, from a decimated read."""
    scale = max(1, max(src.width, src.height) // _SAMPLE_SIDE)
    shape = (max(1, src.height // scale), max(1, src.width // scale))
    data = src.read(band, out_shape=shape, resampling=Resampling.nearest, masked=True)
    valid = data.compressed()
    valid = valid[np.isfinite(valid)] if valid.dtype.kind == "f" else valid
    if not valid.size:
        return [], (0.0, 1.0)
    distinct = np.unique(valid[valid != 0]) if valid.dtype.kind in "iub" else np.unique(valid)
    values = [float(v) for v in distinct[: _MAX_MASK_VALUES + 1]]
    return values, (float(valid.min()), float(valid.max()))


def _template(name: str) -> Template:
    return Template((resources.files("geocrobim") / "styles" / f"{name}.qml").read_text(encoding="utf-8"))


def _attr(value: str) -> str:
    """``value`` escaped for use inside a double-quoted XML attribute."""
    return escape(value, {'"': "&quot;"})


def _number(value: float) -> str:
    return f"{value:g}"
