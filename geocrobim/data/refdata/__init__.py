"""Referring training data from the user's own vector layers over their own raster (``geocrobim refdata``).

Torch-free: rasterio, pyogrio, shapely, pyproj, numpy and Pillow.

==========================  ==============================================================
``make_refdata``            scene + layers -> chips, masks, phrases (RISBench layout), index
``LayerSpec``               one LAYER argument: ``PATH[:LAYER][=CATEGORY]``
``read_layers``             features of every layer in the scene's CRS (:class:`Features`)
``plan_chips``              the chip grid of the training part and of the held-out part
``chip_world``              a chip's features as the synthetic grammar's objects
``describe``                an unambiguous query for one target (grammar + checks)
``query_to_json``           queries to and from the index (``query_from_json``)
==========================  ==============================================================
"""

from __future__ import annotations

from geocrobim.data.refdata.describe import describe, targets
from geocrobim.data.refdata.layers import (
    Features,
    LayerSpec,
    category_from_name,
    parse_attributes,
    read_layers,
)
from geocrobim.data.refdata.queries import query_from_json, query_to_json
from geocrobim.data.refdata.split import HOLDOUT, TRAIN, Chip, plan_chips
from geocrobim.data.refdata.world import ChipWorld, RealObject, chip_world
from geocrobim.data.refdata.writer import (
    RefdataSummary,
    Source,
    checkpoint_reading,
    make_refdata,
    read_index,
)

__all__ = [
    "HOLDOUT",
    "TRAIN",
    "Chip",
    "ChipWorld",
    "Features",
    "LayerSpec",
    "RealObject",
    "RefdataSummary",
    "Source",
    "category_from_name",
    "checkpoint_reading",
    "chip_world",
    "describe",
    "make_refdata",
    "parse_attributes",
    "plan_chips",
    "query_from_json",
    "query_to_json",
    "read_index",
    "read_layers",
    "targets",
]
