"""CPU inference through traced graphs: the model's forward runs without the interpreter lock.

A small model on a CPU spends much of each window in Python: every module's
``forward``, every op's dispatch holds the interpreter lock, and only the kernels
themselves release it. The tiling engine's reader and writer threads need the same lock
to read, stretch and blend, so in eager mode their Python waits for the model's and the
model's waits for theirs: on the 2-core development VM a thread busy with small numpy
calls made ``crobim_test``'s eager forward 1.7x slower (1.67 -> 2.89 ms a window), while
the traced forward did not slow down at all (1.05 -> 1.00 ms) and was faster to begin
with. A graph made by :func:`torch.jit.trace` runs entirely in C++ and releases the lock
for the whole call.

Tracing records one shape's path through the model: Python branches on shapes (resize or
not, how many pair chunks) are frozen into the graph. So a graph is made per input
shapes (windows, expressions, tokens), padding pattern and ``max_pairs``, and is shared
by every text of that form (one expression of a scene, then another); it is made only
for a shape seen a second time (a scene's last, shorter batch stays eager) whose eager
forward is quick (:data:`TRACE_BELOW_S`; a large model's time is in kernels that release
the lock anyway), run twice at once (TorchScript's executor profiles the first run and
optimises the second, both several times slower than later runs), and the optimised
graph's output is checked against the eager forward on the batch it was traced on; if
tracing fails or the outputs differ, the predictor falls back to eager mode for good and
says why in the log.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from geocrobim.models.crobim import CroBIM, TextFeatures
from geocrobim.models.text_encoder import no_loss_type_warning

logger = logging.getLogger(__name__)

#: Graphs kept at once (least recently used dropped first): a pass needs one or two.
MAX_GRAPHS = 4
#: Only a forward faster than this is traced. Tracing costs about three forwards (the trace
#: and two warm-up runs); what it saves is the Python around each op, a fixed ~10-20 us an
#: op. ``crobim_test`` (64 px, a batch of 8 in ~10 ms) ran 1.6x faster traced; ``crobim_small``
#: (256 px, 0.38 s for 4 windows on 2 cores) and ``crobim_swin_b`` (480 px, seconds a
#: window) ran at the same speed, their kernels releasing the lock for most of the call, so
#: for them a trace would only add its ~three forwards.
TRACE_BELOW_S = 0.25
#: A traced graph must match the eager forward this closely on the batch it was traced on.
ATOL, RTOL = 1e-4, 1e-4


class _Forward(nn.Module):
    """``forward_many`` over tensors only (what a trace takes), as a module whose parameters stay parameters."""

    def __init__(self, model: CroBIM, max_pairs: int | None) -> None:
        super().__init__()
        self.model = model
        self.max_pairs = max_pairs

    def forward(self, images: torch.Tensor, *text: torch.Tensor) -> torch.Tensor:
        return self.model.forward_many(images, TextFeatures(*text), max_pairs=self.max_pairs)  # type: ignore[arg-type]  # (ids, mask[, words]): never a 4th


@dataclass
class _Entry:
    calls: int = 0
    graph: Any = None


class TracedForward:
    """``model.forward_many`` that switches to a traced graph for shapes it sees repeatedly.

    Only shapes whose eager forward takes under :data:`TRACE_BELOW_S` are traced: the
    small models whose time is mostly Python.

    Call it under :func:`torch.inference_mode` (the predictor does).

    Args:
        model: the CroBIM, in eval mode, whose weights do not change while this is used.
        enabled: False always runs the eager forward.

    Attributes:
        enabled: whether graphs are still being made and used (False after a failure).
        graphs: graphs made so far (for tests and logs).
    """

    def __init__(self, model: CroBIM, *, enabled: bool = True) -> None:
        self.model = model
        self.enabled = enabled
        self.graphs = 0
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()

    def __call__(self, images: torch.Tensor, text: TextFeatures, max_pairs: int | None = None) -> torch.Tensor:
        """Foreground logits ``(B, E, H, W)`` for normalised ``images (B, 3, H, W)``."""
        if not self.enabled:
            return self.model.forward_many(images, text, max_pairs=max_pairs)
        inputs: tuple[torch.Tensor, ...] = (images, text.input_ids, text.attention_mask)
        if text.word_features is not None:
            inputs += (text.word_features,)
        # The padding pattern is in the key: it is the one part of the text whose values
        # could steer a Python branch (an attention implementation skipping an all-ones
        # mask), and it is a few dozen bytes.
        key = (*(tuple(t.shape) for t in inputs), text.attention_mask.cpu().numpy().tobytes(), max_pairs)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            while len(self._entries) > MAX_GRAPHS:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        entry.calls += 1
        if entry.graph is not None:
            return entry.graph(*inputs)
        start = time.perf_counter()
        eager = self.model.forward_many(images, text, max_pairs=max_pairs)
        if entry.calls >= 2 and time.perf_counter() - start < TRACE_BELOW_S:
            entry.graph = self._trace(inputs, max_pairs, eager)
        return eager

    def _trace(self, inputs: tuple[torch.Tensor, ...], max_pairs: int | None, eager: torch.Tensor) -> Any:
        """A graph of the forward for these shapes, or None (and eager mode from now on) if it is not faithful."""
        try:
            with warnings.catch_warnings():
                # The tracer warns about every shape test it freezes; freezing them is the point.
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                # TorchScript is deprecated in favour of torch.export; if a later torch drops
                # it, the call fails and the predictor stays eager. The tracer also reads
                # every attribute of the modules, deprecated ones of transformers' included.
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
                warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers")
                with no_loss_type_warning():  # the tracer reads BERT's loss_function property too
                    graph = torch.jit.trace(_Forward(self.model, max_pairs), inputs, check_trace=False)
            # The graph executor profiles the first run and optimises for the second; after
            # those two, calls run at their steady pace (the engine's thread tuning times them).
            graph(*inputs)
            traced = graph(*inputs)
        except Exception as exc:  # noqa: BLE001 - any tracer failure means: stay eager
            return self._give_up(f"tracing failed ({type(exc).__name__}: {exc})")
        if traced.shape != eager.shape or not torch.allclose(traced, eager, atol=ATOL, rtol=RTOL):
            diff = (traced - eager).abs().max().item() if traced.shape == eager.shape else float("nan")
            return self._give_up(f"the traced graph differs from the model by up to {diff:.3g}")
        self.graphs += 1
        logger.debug("traced the forward for inputs %s", [tuple(t.shape) for t in inputs])
        return graph

    def _give_up(self, why: str) -> None:
        logger.info("running the model eagerly: %s", why)
        self.enabled = False
        self._entries.clear()
        return None
