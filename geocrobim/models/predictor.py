"""Batched inference API used by the tiling engine: many windows x many expressions per call.

::

    predictor = Predictor.from_checkpoint("default")          # device/precision "auto"
    text = predictor.encode_text(["the red-roofed warehouse"])   # once per scene
    probs = predictor.predict(windows_uint8, text)               # (B, E, H, W) float32 in [0, 1]

The image encoder runs once per window, the prompt-free BERT pass once per expression
(inside :meth:`Predictor.encode_text`); CAPM, the prompted BERT pass, LGFA and MID run per
(window, expression) pair, batched along the batch axis. On CUDA the model runs under
bf16 autocast with channels_last memory; on the CPU in float32, eagerly (traced graphs
were measured and removed: no gain for the shipped model, docs/performance.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geocrobim.errors import UsageError
from geocrobim.models.checkpoint import load_checkpoint
from geocrobim.models.crobim import CroBIM, TextFeatures
from geocrobim.models.device import resolve_device
from geocrobim.models.flips import ENSEMBLE_FLIPS, FLIP_DIM, FlipAxis, flip_ensemble
from geocrobim.models.text_encoder import TextTokenizer

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> ``"bf16"`` on CUDA, ``"fp32"`` on the CPU."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


class Predictor:
    """Run a CroBIM model on uint8 RGB windows for a set of expressions.

    Args:
        model: a CroBIM (put in eval mode and moved to ``device`` here).
        tokenizer: its tokenizer.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 on the CPU), ``"fp32"`` or ``"bf16"``.
        metadata: checkpoint metadata (``gsd_m``, ``model_id``, ...).
        max_pairs: decode at most this many (window, expression) pairs at once.

    Attributes:
        tile_size: the model's input side S (windows of any size are resized to it).
        gsd: ground sample distance (m) the model was trained at, or None.
        model_id: a name for reports.
    """

    def __init__(
        self,
        model: CroBIM,
        tokenizer: TextTokenizer,
        device: str | torch.device = "auto",
        precision: str = "auto",
        metadata: dict[str, Any] | None = None,
        max_pairs: int | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.metadata = dict(metadata or {})
        self.max_pairs = max_pairs
        self.tokenizer = tokenizer
        self.model = model.eval().to(self.device)
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format
        dtype = torch.float32
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device, dtype=dtype).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(IMAGENET_STD, device=self.device, dtype=dtype).view(1, 3, 1, 1) * 255.0

    @classmethod
    def from_checkpoint(
        cls,
        path_or_name: str | Path = "default",
        device: str | torch.device = "auto",
        precision: str = "auto",
        **kwargs: Any,
    ) -> Predictor:
        """Load a checkpoint directory (or ``"default"``) and wrap it.

        The device is checked first: a missing GPU fails before the model is built.
        """
        device = resolve_device(device)
        ckpt = load_checkpoint(path_or_name)
        metadata = dict(ckpt.metadata)
        metadata.setdefault("model_id", ckpt.path.name if ckpt.path else "unknown")
        return cls(ckpt.model, ckpt.tokenizer, device=device, precision=precision, metadata=metadata, **kwargs)

    @property
    def tile_size(self) -> int:
        return self.model.config.image_size

    @property
    def gsd(self) -> float | None:
        value = self.metadata.get("gsd_m")
        return None if value is None else float(value)

    @property
    def model_id(self) -> str:
        return str(self.metadata.get("model_id", "unknown"))

    @property
    def num_classes(self) -> int:
        return self.model.config.num_classes

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
            if self.precision == "bf16"
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            yield

    def encode_text(self, expressions: Sequence[str], *, warn_user: bool = True) -> TextFeatures:
        """Tokenise and run the prompt-free text pass once per expression.

        Args:
            expressions: E non-empty strings.
            warn_user: warn about unknown words and cut sentences; False for sentences derived
                from ones already checked (a flip's rewrite, the engine's model text).

        Returns:
            TextFeatures on this predictor's device, reusable for every window.
        """
        if isinstance(expressions, str):
            expressions = [expressions]
        expressions = [str(e) for e in expressions]
        empty = [i for i, e in enumerate(expressions) if not e.strip()]
        if not expressions or empty:
            raise UsageError("empty expression; pass at least one non-empty referring expression")
        ids, mask = self.tokenizer(expressions, self.model.config.max_tokens, warn_user=warn_user)
        with self._running():
            return self.model.encode_text(ids.to(self.device), mask.to(self.device), expressions)

    def predict_logits(self, images: np.ndarray, text: TextFeatures) -> torch.Tensor:
        """Foreground logits (B, E, H, W) as a float32 tensor on the predictor's device."""
        batch = self._to_tensor(images)
        if text.input_ids.device != self.device:
            text = text.to(self.device)
        with self._running():
            logits = self.model.forward_many(batch, text, max_pairs=self.max_pairs)
        return logits.float()

    def predict(self, images: np.ndarray, text: TextFeatures) -> np.ndarray:
        """Probability that each pixel belongs to the referred object.

        Args:
            images: (B, 3, H, W) uint8 RGB windows (any H, W).
            text: from :meth:`encode_text`.

        Returns:
            (B, E, H, W) float32 in [0, 1] (2 classes: softmax channel 1; 1 class: sigmoid).
        """
        probs = torch.sigmoid(self.predict_logits(images, text))
        return probs.cpu().numpy().astype(np.float32, copy=False)

    def _to_tensor(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> normalised float32 on the device (channels_last on CUDA)."""
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            raise UsageError(f"images must be a uint8 numpy array, got {getattr(images, 'dtype', type(images))}")
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[0] == 0:
            raise UsageError(f"images must be (B, 3, H, W) with B >= 1, got {images.shape}")
        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.device, non_blocking=True).float()
        batch = (batch - self._mean) / self._std
        if self.device.type == "cuda":
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch


class FlipEnsemble:
    """A :class:`Predictor` whose answer is averaged over mirrored copies of each window.

    Each mirrored pass reads its sentences rewritten for the mirror ("left" becomes
    "right"; :func:`~geocrobim.models.flips.flip_ensemble`). It costs one more model pass per
    mirror. Everything else (``tile_size``, ``gsd``, ``encode_text`` ...) is the wrapped
    predictor's.

    Args:
        predictor: the predictor to wrap.
        flips: the mirrors added to the plain pass.
    """

    def __init__(self, predictor: Predictor, flips: Sequence[FlipAxis] = ENSEMBLE_FLIPS) -> None:
        self.predictor = predictor
        self.flips = tuple(flips)
        self._rewritten: dict[tuple[str, ...], TextFeatures] = {}

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this wrapper lacks: the wrapped predictor's.
        return getattr(self.predictor, name)

    def encode_text(self, expressions: Sequence[str], *, warn_user: bool = True) -> TextFeatures:
        return self.predictor.encode_text(expressions, warn_user=warn_user)

    def predict_logits(self, images: np.ndarray, text: TextFeatures) -> torch.Tensor:
        """Foreground logits (B, E, H, W), averaged over the plain and the mirrored windows."""
        if len(text.expressions) != len(text):
            raise UsageError("the flip ensemble needs the sentences; encode them with encode_text")

        def run(axis: FlipAxis | None, texts: list[str]) -> torch.Tensor:
            if axis is None:
                return self.predictor.predict_logits(images, text)
            key = tuple(texts)
            if key not in self._rewritten:
                # A scene reuses its sentences for every window: encode each rewrite once.
                if len(self._rewritten) >= 8:
                    self._rewritten.clear()
                # Warnings name what the user typed, not "left" rewritten as "right".
                self._rewritten[key] = self.predictor.encode_text(texts, warn_user=False)
            mirrored = np.flip(images, FLIP_DIM[axis])
            return self.predictor.predict_logits(mirrored, self._rewritten[key])

        return flip_ensemble(run, text.expressions, self.flips)

    def predict(self, images: np.ndarray, text: TextFeatures) -> np.ndarray:
        """Probabilities (B, E, H, W) float32, as :meth:`Predictor.predict`."""
        probs = torch.sigmoid(self.predict_logits(images, text))
        return probs.cpu().numpy().astype(np.float32, copy=False)
