"""Suite-wide fixtures.

The torchvision compat shim must run before any test module imports timm, Lightning,
torchmetrics or torchgeo (see geocrobim/compat.py); importing it here does that.
"""

from __future__ import annotations

from geocrobim.compat import ensure_torchvision_importable

ensure_torchvision_importable()
