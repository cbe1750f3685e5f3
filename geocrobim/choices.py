"""The closed choices of a segment run, defined once.

The CLI (click choices), :class:`geocrobim.inference.options.SegmentOptions` (``Literal``
types and validation), the vector writers and the QGIS plugin all read their lists from
here. This module imports nothing from geocrobim or any third-party package: the QGIS
plugin runs inside QGIS's own Python, without geocrobim, and loads this file by path
(``geocrobim_qgis/runner.py``).
"""

from __future__ import annotations

from typing import Literal, get_args

#: ``--format``: the vector formats of the polygon output.
VectorFormatName = Literal["gpkg", "geojson", "shp", "fgb", "parquet"]
VECTOR_FORMATS: tuple[str, ...] = get_args(VectorFormatName)

#: ``--instances``: keep the best-scoring component, or every one above the threshold.
Instances = Literal["best", "all"]
INSTANCE_CHOICES: tuple[str, ...] = get_args(Instances)

#: ``--device`` names offered in menus; ``cuda:N`` (a GPU index) is accepted as well.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def is_device(name: str) -> bool:
    """Whether ``name`` has the form of a device: one of :data:`DEVICES` or ``cuda:N``."""
    if name in DEVICES:
        return True
    kind, _, index = name.partition(":")
    return kind == "cuda" and index.isdigit()
