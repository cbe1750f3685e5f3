"""Synthetic referring chips streamed for training (``SyntheticStream``).

Wraps :class:`geocrobim.data.synthetic.chips.ChipGenerator`, whose scene ``i`` depends
only on ``(seed, split, i)``. Unlike the map-style
:class:`geocrobim.data.SyntheticReferring` (used for validation, test and ``geocrobim
evaluate``), the stream lets each DataLoader worker of each DDP process render its own
share of scenes one after another and yield every expression of a scene (``per_scene``
targets of one render) before the next: rendering, the costly part, is amortised
whatever the sampler, and a batch holds several targets of the same image. Every epoch
draws new scenes. Deterministic for a given seed, world size and worker count.

Only numpy, Pillow and shapely are needed (no rasterio).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import IterableDataset, get_worker_info

from geocrobim.data.synthetic.chips import DEFAULT_GSDS, ChipGenerator, ChipSample
from geocrobim.errors import UsageError

logger = logging.getLogger(__name__)


def _as_dict(sample: ChipSample, name: str) -> dict[str, Any]:
    return {"image": sample.image, "mask": sample.mask, "expression": sample.expression, "id": name}


class SyntheticStream(IterableDataset[dict[str, Any]]):
    """Endless fresh training chips, ``length`` per epoch, sharded over processes and workers.

    Args:
        length: samples per epoch over all processes.
        size: chip side in pixels.
        gsds: GSDs in metres, one drawn per scene.
        seed: base seed.
        per_scene: expressions per rendered scene.
        split: the seed stream (``train``).

    Attributes:
        rank / world_size: this process's share; set by the datamodule under DDP.
        batch_size: each DataLoader worker yields whole batches, so ``len()`` is exact
            (set by the datamodule; Lightning counts steps per epoch from it).
    """

    def __init__(
        self,
        length: int,
        size: int = 256,
        gsds: Sequence[float] = DEFAULT_GSDS,
        seed: int = 0,
        per_scene: int = 4,
        split: str = "train",
    ) -> None:
        if length < 1:
            raise UsageError(f"length={length} must be at least 1")
        self.length = int(length)
        self.generator = ChipGenerator(size=size, gsds=gsds, seed=seed, split=split, per_scene=per_scene)
        self.rank, self.world_size, self.batch_size = 0, 1, 1
        self._epoch = 0  # per copy: persistent workers and the main process each count their own epochs

    def __len__(self) -> int:
        """Samples per epoch of this process: whole batches only."""
        return self.length // self.world_size // self.batch_size * self.batch_size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        shards, shard = self.world_size * workers, self.rank * workers + worker
        # This worker's share of the process's batches (the first workers take the remainder);
        # a worker's samples form whole batches, so the DataLoader yields exactly len() / batch_size.
        batches = len(self) // self.batch_size
        quota = (batches // workers + (1 if worker < batches % workers else 0)) * self.batch_size
        # Scene indices never repeat across epochs: each epoch owns a block of `length` indices
        # (a scene yields at least one sample, so a block is never exhausted).
        first = self._epoch * self.length
        self._epoch += 1
        produced, k = 0, 0
        while produced < quota:
            index = first + k * shards + shard
            try:
                samples = self.generator.scene(index)
            except RuntimeError as exc:  # a world with nothing describable: skip it, the stream goes on
                logger.warning("skipping synthetic scene %d: %s", index, exc)
                samples = []
            k += 1
            for sample in samples:
                if produced == quota:
                    break
                yield _as_dict(sample, f"train_{index}_{sample.target_id}")
                produced += 1

