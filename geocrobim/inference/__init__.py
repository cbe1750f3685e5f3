"""The GeoTIFF engine: referring segmentation of whole scenes, tiled, seamless, in bounded memory.

:func:`segment_raster` is the library entry point behind ``geocrobim segment``::

    from geocrobim.inference import segment_raster
    result = segment_raster("scene.tif", ["the large pond"], output_dir="out")
    print(result.to_dict())

Modules: :mod:`.reading` (reading GSD and tiling), :mod:`.pipeline` (reader threads,
batched model, writer), :mod:`.grounding` (coarse pass, candidates), :mod:`.passes`
(coarse and fine passes), :mod:`.instances` (component scoring and arbitration),
:mod:`.masks` (final rasters), :mod:`.outputs` (names, staging), :mod:`.engine`.
"""

from __future__ import annotations

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()  # before anything imports timm/transformers (and torchvision)

from geocrobim.inference.engine import DEFAULT_BATCH_SIZE, THRESHOLD, segment_raster  # noqa: E402
from geocrobim.inference.result import ExpressionResult, SegmentResult  # noqa: E402

__all__ = ["DEFAULT_BATCH_SIZE", "THRESHOLD", "ExpressionResult", "SegmentResult", "segment_raster"]
