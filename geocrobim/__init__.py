"""geocrobim: referring segmentation of georeferenced rasters with CroBIM.

``import geocrobim`` stays light: it never imports torch, so the CLI starts fast and
the GIS layers (:mod:`geocrobim.raster`, :mod:`geocrobim.vector`) work without the
model. The model-facing names below are resolved lazily on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it; imported only when the name is first used.
_LAZY = {
    "create_model": "geocrobim.models",
    "list_models": "geocrobim.models",
    "load_checkpoint": "geocrobim.models",
    "segment_raster": "geocrobim.inference",
    "SegmentOptions": "geocrobim.inference.options",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geocrobim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
