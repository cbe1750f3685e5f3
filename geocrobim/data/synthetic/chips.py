"""Synthetic referring chips: in memory for on-the-fly training, or on disk in RISBench's layout.

A chip is a small world rendered at one GSD of a list (a 512 px chip at 2 m shows a
kilometre, like the engine's coarse pass over a scene; at 0.3 m it shows a few
houses). Chip ``i`` of a split depends only on (seed, split, i), so any worker can
make any chip, in any order, and get the same bytes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from geocrobim.data.synthetic.grammar import ObjectTable, Query
from geocrobim.data.synthetic.layout import THEMES, generate_layout
from geocrobim.data.synthetic.objects import Layout
from geocrobim.data.synthetic.pixel_grid import Grid
from geocrobim.data.synthetic.referents import generate, style_weights
from geocrobim.data.synthetic.render import render, render_mask
from geocrobim.errors import OutputError, UsageError

logger = logging.getLogger(__name__)

SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_GSDS = (0.3, 0.5, 1.0, 2.0)


@dataclass
class ChipSample:
    """One image-expression-mask triplet.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        mask: (H, W) uint8, 1 on the target, 0 elsewhere.
        expression: the referring expression.
        gsd: ground sample distance of the chip, metres.
        category: the target's category.
        target_id: the target's id in :attr:`layout`.
        query: the expression's meaning (``query.evaluate(table(sample)) == [target_id]``, or
            the members for an ``every`` query).
        scene: index of the chip's scene in its split.
        layout: the scene itself.
        members: ids of all the objects an ``every`` query names (the mask covers them all);
            empty when the expression names the target alone.
    """

    image: np.ndarray
    mask: np.ndarray
    expression: str
    gsd: float
    category: str
    target_id: int
    query: Query
    scene: int
    layout: Layout = field(repr=False)
    members: tuple[int, ...] = ()

    def table(self) -> ObjectTable:
        """The objects the expression was checked against."""
        h, w = self.mask.shape
        return ObjectTable(self.layout, (0.0, 0.0, w * self.gsd, h * self.gsd), tolerance(self.gsd))


def tolerance(gsd: float) -> float:
    """Positional tolerance in metres for a GSD: three pixels, at least 2 m."""
    return max(2.0, 3.0 * gsd)


class ChipGenerator:
    """Deterministic, random-access source of synthetic chips.

    Args:
        size: chip side in pixels.
        gsds: the GSDs (metres) chips are drawn at, uniformly.
        seed: base seed; (seed, split, index) fixes a chip.
        split: "train", "val" or "test" (independent streams).
        per_scene: expressions (distinct targets) per rendered scene.
        themes: restrict the scene themes (keys of ``layout.THEMES``).
        styles: expression-style weights to change (``{"ordinal": 0.12}``; see
            :func:`~geocrobim.data.synthetic.referents.style_weights`); None keeps the defaults.

    Example:
        >>> gen = ChipGenerator(size=256, gsds=(0.5, 1.0), seed=7)
        >>> s = gen.sample(0)
        >>> s.image.shape, s.mask.dtype, isinstance(s.expression, str)
        ((256, 256, 3), dtype('uint8'), True)
    """

    def __init__(
        self,
        *,
        size: int = 512,
        gsds: Sequence[float] = DEFAULT_GSDS,
        seed: int = 0,
        split: str = "train",
        per_scene: int = 1,
        themes: Sequence[str] | None = None,
        styles: Mapping[str, float] | None = None,
    ) -> None:
        if split not in SPLITS:
            raise UsageError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        if size < 32 or not gsds or any(g <= 0 for g in gsds) or per_scene < 1:
            raise UsageError(f"bad chip settings size={size} gsds={list(gsds)} per_scene={per_scene}; "
                             "use size >= 32, positive GSDs and per_scene >= 1")  # fmt: skip
        for theme in themes or ():
            if theme not in THEMES:
                raise UsageError(f"unknown theme {theme!r}; use one of {', '.join(sorted(THEMES))}")
        self.size, self.gsds, self.seed, self.split = size, tuple(float(g) for g in gsds), seed, split
        self.per_scene = per_scene
        self.themes = tuple(themes) if themes else tuple(sorted(THEMES))
        self.styles = style_weights(styles)
        self._cache: tuple[int, list[ChipSample]] | None = None

    def scene(self, index: int) -> list[ChipSample]:
        """All samples of scene ``index`` (one render, ``per_scene`` targets; fewer in a sparse scene)."""
        root = np.random.SeedSequence([self.seed, SPLITS[self.split], index])
        rng = np.random.default_rng(root.spawn(1)[0])
        gsd = self.gsds[int(rng.integers(len(self.gsds)))]
        theme = self.themes[int(rng.integers(len(self.themes)))]
        extent = self.size * gsd
        for attempt in range(8):
            layout_seed = np.random.SeedSequence([self.seed, SPLITS[self.split], index, attempt, 1])
            layout = generate_layout(extent, extent, layout_seed, theme=theme)
            table = ObjectTable(layout, (0.0, 0.0, extent, extent), tolerance(gsd))
            refs = generate(table, rng, self.per_scene, gsd=gsd, styles=self.styles)
            if refs:
                break
        else:  # pragma: no cover - eight empty worlds in a row do not happen in practice
            raise RuntimeError(f"no describable object in scene {index} of seed {self.seed} "
                               f"({self.size} px at {gsd:g} m); use larger chips or a coarser GSD")  # fmt: skip
        grid = Grid(0, 0, self.size, self.size, gsd)
        image = render(layout, grid)
        return [
            ChipSample(image, _mask(layout, r.members or (r.target_id,), grid), r.text, gsd, r.category,
                       r.target_id, r.query, index, layout, r.members)  # fmt: skip
            for r in refs
        ]

    def sample(self, index: int) -> ChipSample:
        """Sample ``index``: expression ``index % per_scene`` of scene ``index // per_scene``."""
        scene_index, k = divmod(index, self.per_scene)
        if self._cache is None or self._cache[0] != scene_index:
            self._cache = (scene_index, self.scene(scene_index))
        samples = self._cache[1]
        return samples[k % len(samples)]

    def __iter__(self) -> Iterator[ChipSample]:
        """Endless stream of samples, scene after scene."""
        index = 0
        while True:
            yield from self.scene(index)
            index += 1


def _mask(layout: Layout, ids: Sequence[int], grid: Grid) -> np.ndarray:
    """(H, W) uint8 mask of the union of objects ``ids``."""
    return np.maximum.reduce([render_mask(layout.objects[i], grid) for i in ids])


def _chip_name(split: str, scene: int, obj: int) -> str:
    return f"{split}_{scene}_{obj}.png"


def _write_scene(args: tuple[ChipGenerator, int, Path]) -> list[tuple[str, str, dict]]:
    """Render one scene and write its files; return (file name, expression, metadata) rows."""
    gen, index, root = args
    rows = []
    samples = gen.scene(index)
    for k, s in enumerate(samples):
        name = _chip_name(gen.split, index, k)
        Image.fromarray(s.image).save(root / "img_rgb" / name, compress_level=3)
        Image.fromarray((s.mask * 255).astype(np.uint8)).save(root / "mask" / name, compress_level=3)
        meta = {"file": name, "gsd": s.gsd, "category": s.category, "target_id": s.target_id, "scene": index, "seed": gen.seed}
        rows.append((name, s.expression, meta))
    return rows


def write_chips(
    root: str | Path,
    n: int,
    *,
    split: str = "train",
    seed: int = 0,
    size: int = 512,
    gsds: Sequence[float] = DEFAULT_GSDS,
    per_scene: int = 1,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``n`` chips in RISBench's on-disk layout.

    Layout (readable by :class:`geocrobim.data.RISBench` and :class:`geocrobim.data.SyntheticChips`)::

        root/img_rgb/<split>_<scene>_<obj>.png   RGB
        root/mask/<split>_<scene>_<obj>.png      0 / 255
        root/output_phrase_<split>.txt           "<file name> <expression>" per line
        root/synthetic_<split>.jsonl             per file: gsd, category, target id, scene, seed

    Args:
        root: output folder (created; other splits already there are kept).
        n: number of triplets (lines) to write.
        split: "train", "val" or "test".
        seed: base seed.
        size: chip side in pixels.
        gsds: GSDs in metres, drawn uniformly per scene.
        per_scene: expressions per scene (the image is repeated per expression, as in RISBench).
        workers: processes rendering in parallel.
        progress: called as ``progress(done, n)``.

    Returns:
        The phrase file path.
    """
    if n < 1 or workers < 1:
        raise UsageError(f"n={n} workers={workers}: both must be at least 1")
    gen = ChipGenerator(size=size, gsds=gsds, seed=seed, split=split, per_scene=per_scene)
    root = Path(root)
    try:
        for sub in ("img_rgb", "mask"):
            (root / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {root}: {exc.strerror}; choose a writable folder") from exc
    lines: list[str] = []
    metas: list[str] = []
    jobs = iter(range(1 << 62))

    def consume(rows: list[tuple[str, str, dict]]) -> bool:
        for name, text, meta in rows:
            if len(lines) < n:
                lines.append(f"{name} {text}")
                metas.append(json.dumps(meta))
        if progress:
            progress(len(lines), n)
        return len(lines) >= n

    if workers == 1:
        for index in jobs:
            if consume(_write_scene((gen, index, root))):
                break
    else:
        with ProcessPoolExecutor(workers) as pool:
            batch = max(workers * 2, 1)
            while len(lines) < n:
                chunk = [next(jobs) for _ in range(batch)]
                for rows in pool.map(_write_scene, [(gen, i, root) for i in chunk]):
                    if consume(rows):
                        break
    listed = {line.split(" ", 1)[0] for line in lines}
    for path in (root / "img_rgb").glob(f"{split}_*.png"):  # samples rendered past n (last scene, parallel batch)
        if path.name not in listed and path.name.rsplit("_", 2)[0] == split:
            path.unlink()
            (root / "mask" / path.name).unlink(missing_ok=True)
    phrase = root / f"output_phrase_{split}.txt"
    phrase.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / f"synthetic_{split}.jsonl").write_text("\n".join(metas) + "\n", encoding="utf-8")
    logger.info("wrote %d %s chips to %s", len(lines), split, root)
    return phrase
