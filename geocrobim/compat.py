"""Make torchvision importable when its compiled ops cannot load (Workaround B).

PyPI's Linux torchvision wheels are CUDA builds. Beside a CPU-only torch their
``_C.so`` fails to load, and torchvision's ``_meta_registrations`` then registers a
fake kernel for ``torchvision::nms`` without checking that the operator exists, so
``import torchvision`` raises ``RuntimeError: operator torchvision::nms does not exist``.
timm, Lightning, torchmetrics, transformers and torchgeo all import torchvision when it
is installed, so they fail with it.

geocrobim needs none of torchvision's compiled ops (segmentation has no NMS). When, and
only when, ``_C`` fails to load, :func:`ensure_torchvision_importable` defines the two
operator *schemas* torchvision's fake-kernel registration looks up (``nms`` and
``qnms``). torchvision then imports; calling ``torchvision.ops.nms`` still raises
torchvision's own "Couldn't load custom C++ ops" error, which is honest.

Where torchvision's ops load (a matching torch/torchvision pair, e.g. a CUDA machine)
this does nothing. It must run before torchvision is first imported: the model,
training and inference packages import it first thing; ``import geocrobim`` does not,
so the CLI and the GIS layers never import torch.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import sys

logger = logging.getLogger(__name__)

#: Operator schemas torchvision's ``_meta_registrations`` needs to exist.
SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)

_state: dict[str, object] = {"done": False, "library": None, "patched": False}


def _torchvision_c_library() -> str | None:
    """Path of torchvision's compiled extension, found without importing torchvision."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(glob.glob(os.path.join(folder, "_C*.so")) + glob.glob(os.path.join(folder, "_C*.pyd")))
        if found:
            return found[0]
    return None


def ensure_torchvision_importable() -> bool:
    """Register torchvision's missing op schemas if (and only if) its ops cannot load.

    Returns:
        True if the schemas were registered by this call or an earlier one, False if
        nothing was needed (no torchvision, already imported, or its ops load).
    """
    if _state["done"]:
        return bool(_state["patched"])
    _state["done"] = True
    if "torchvision" in sys.modules:  # too late to help, and nothing to do if it imported
        return False
    library = _torchvision_c_library()
    if library is None:
        return False
    import torch

    try:
        torch.ops.load_library(library)
        return False  # the real ops are there; torchvision imports on its own
    except (OSError, RuntimeError) as exc:
        logger.debug("torchvision ops do not load (%s); registering op schemas", exc)
    if _has_op("nms"):
        return False
    lib = torch.library.Library("torchvision", "DEF")
    for schema in SCHEMAS:
        lib.define(schema)
    _state["library"] = lib  # keep the registration alive for the process lifetime
    _state["patched"] = True
    return True


def _has_op(name: str) -> bool:
    import torch

    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True
