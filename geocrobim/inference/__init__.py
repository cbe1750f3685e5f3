"""The GeoTIFF engine: referring segmentation of whole scenes, tiled, seamless, in bounded memory.

:func:`segment_raster` is the library entry point behind ``geocrobim segment``::

    from geocrobim.inference import segment_raster
    result = segment_raster("scene.tif", ["the large pond"], output_dir="out")
    print(result.to_dict())

Modules: :mod:`.options` (the run's options), :mod:`.read_plan` (reading GSD and tiling), :mod:`.pipeline` (reader threads,
batched model, writer), :mod:`.grounding` (coarse pass, candidates), :mod:`.passes`
(coarse and fine passes), :mod:`.instances` (component scoring and arbitration),
:mod:`.masks` (final rasters), :mod:`.outputs` (names, staging), :mod:`.engine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geocrobim.inference.engine import THRESHOLD, segment_raster
    from geocrobim.inference.options import DEFAULT_BATCH_SIZE, SegmentOptions
    from geocrobim.inference.result import ExpressionResult, SegmentResult

__all__ = ["DEFAULT_BATCH_SIZE", "THRESHOLD", "ExpressionResult", "SegmentOptions", "SegmentResult", "segment_raster"]

_HOMES = {
    "DEFAULT_BATCH_SIZE": "options", "SegmentOptions": "options", "THRESHOLD": "engine", "segment_raster": "engine",
    "ExpressionResult": "result", "SegmentResult": "result",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): torch-free submodules such as .expressions and .outputs serve the
    # batch driver and the CLI without loading the engine; the model loads torch (and
    # sets up torchvision, geocrobim.compat) only when a run needs it.
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
