"""Referring-segmentation data: real dataset loaders and the synthetic scene generator.

The synthetic generator (:mod:`geocrobim.data.synthetic`) needs only numpy, shapely,
rasterio and Pillow. The torch ``Dataset`` classes below are imported on first use,
so ``geocrobim synth`` never imports torch.

==========================  ==============================================================
``RISBench``                RISBench folder (img_rgb/, mask/, output_phrase_<split>.txt)
``RRSISD``                  RRSIS-D (refs(unc).p, instances.json, JPEGImages/)
``RefSegRS``                RefSegRS (images/, masks/, output_phrase_<split>.txt)
``SyntheticChips``          chips written by ``geocrobim synth chips`` (RISBench layout)
``SyntheticReferring``      synthetic chips rendered on the fly (no disk)
``ChipGenerator``           the in-memory chip source behind ``SyntheticReferring``
``write_chips``             chips to disk in RISBench's layout
``write_scene``             a large GeoTIFF scene with ground-truth masks and an index
``make_refdata``            chips from the user's own raster and vector layers (RISBench layout)
==========================  ==============================================================
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "RISBench": "geocrobim.data.risbench",
    "SyntheticChips": "geocrobim.data.risbench",
    "RRSISD": "geocrobim.data.rrsisd",
    "RefSegRS": "geocrobim.data.refsegrs",
    "SyntheticReferring": "geocrobim.data.synthetic_dataset",
    "ReferringDataset": "geocrobim.data.base",
    "ChipGenerator": "geocrobim.data.synthetic.chips",
    "ChipSample": "geocrobim.data.synthetic.chips",
    "write_chips": "geocrobim.data.synthetic.chips",
    "write_scene": "geocrobim.data.synthetic.scene_files",
    "make_refdata": "geocrobim.data.refdata",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geocrobim.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
