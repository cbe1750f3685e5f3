"""The options of a segment run: one frozen, typed, validated object.

:class:`SegmentOptions` is the single definition of what ``geocrobim segment`` and
``geocrobim batch`` accept besides the scene and the expressions. Each field carries its
command-line flag (:class:`Flag`, in the field's metadata): ``geocrobim.cli.options`` builds
the click options of both commands from it, :func:`geocrobim.inference.segment_raster`,
the batch worker and the Ray actor receive the object as is, and ``--resume`` hashes
:meth:`SegmentOptions.identity`. Adding an option is adding a field here and using it
where it acts.

Torch-free and click-free: the batch driver builds and hashes options without the model.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from geocrobim.choices import INSTANCE_CHOICES, VECTOR_FORMATS, Instances, VectorFormatName, is_device
from geocrobim.errors import UsageError

#: Windows per model call.
DEFAULT_BATCH_SIZE = 8
#: Smallest window the engine accepts; below this the model sees almost nothing.
MIN_TILE = 16
#: Largest window; a (B, 3, N, N) batch beyond this is a memory hazard, not a tiling.
MAX_TILE = 8192


def parse_bands(text: str) -> tuple[int, ...]:
    """``"4,3,2"`` -> ``(4, 3, 2)``; one line naming the bad value otherwise."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--bands {text!r} must be 1 or 3 comma-separated band numbers, e.g. 1,2,3 or 4,3,2") from None


def parse_range(text: str) -> tuple[float, float]:
    """``"0,3000"`` -> ``(0.0, 3000.0)``."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return (float(parts[0]), float(parts[1]))
    except ValueError:
        raise UsageError(f"--range {text!r} must be LOW,HIGH data values, e.g. 0,3000") from None


@dataclass(frozen=True)
class Flag:
    """How an option appears on the command line.

    Attributes:
        decls: click's declarations, e.g. ``("--format",)`` or ``("--coarse/--no-coarse",)``.
        help: the help text.
        kind: ``int``, ``float`` or ``str`` for a valued flag; ``bool`` for an on/off flag.
        choices: the allowed values (a click Choice, case-insensitive).
        parse: turns the flag's text into the field's value (e.g. ``"4,3,2"`` -> ``(4, 3, 2)``).
    """

    decls: tuple[str, ...]
    help: str
    kind: type = str
    choices: tuple[str, ...] | None = None
    parse: Callable[[str], Any] | None = None


def _option(default: Any, flag: Flag | None, *, identity: bool = True) -> Any:
    """A field with its flag; ``identity=False``: the value does not change the outputs."""
    return field(default=default, metadata={"flag": flag, "identity": identity})


@dataclass(frozen=True)
class SegmentOptions:
    """Everything that tunes one segment run (see :func:`geocrobim.inference.segment_raster`).

    Attributes:
        checkpoint: checkpoint directory or name (``"default"``: the packaged model).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        bands: 1-based bands used as R, G, B (one band is repeated); None chooses.
        gsd: reading GSD in metres; None: the model's training GSD where the scene is finer.
        value_range: ``(low, high)`` data values mapped to 0-255 instead of the percentile stretch.
        tile_size: window side in pixels at the reading GSD; None: the model's input size.
        overlap: window overlap in the same pixels; None: a quarter tile.
        batch_size: windows per model call.
        readers: reader threads; None: one with a CPU model, four with a GPU model; 0 reads,
            runs and writes in the calling thread (no overlap). Library only.
        instances: ``best`` keeps the best-scoring instance, ``all`` every one.
        coarse: run the coarse (whole-scene) pass and restrict the fine pass to its candidates.
        scene_words: resolve words about the whole scene ("the rightmost", "in the top left
            corner", "north of the river") over every candidate
            (:mod:`geocrobim.inference.scene_words`, :mod:`geocrobim.inference.river`); False:
            the model reads the whole sentence, window by window, and nothing else decides.
        tta: average every window (coarse and fine) over its left-right mirror, its top-bottom
            mirror and both (turned 180 degrees), each read with the sentence rewritten for it
            (:class:`~geocrobim.models.FlipEnsemble`); four model passes instead of one.
            None: as the model's metadata says (``"tta": true`` for the shipped model, whose
            calibration was fitted with the ensemble), else off.
        probabilities: also write the blended probabilities as a uint8 0-255 COG.
        vector_format: one of :data:`geocrobim.choices.VECTOR_FORMATS`.
        simplify: polygon simplification tolerance in CRS units (0: exact pixel outlines).
        min_area: drop instances smaller than this many square metres.
        fill_holes: fill holes smaller than this many square metres in each instance.
        min_score: keep instances whose score reaches this; None: the threshold stored with
            a calibrated model (its "not found"), 0 without one. 0 always keeps the best candidate.

    Raises:
        UsageError: on construction, a value out of range, naming the flag and the fix.
    """

    checkpoint: str = _option(
        "default", Flag(("--checkpoint",), "Checkpoint directory or name."), identity=False  # the model hash covers it
    )
    device: str = _option("auto", Flag(("--device",), "auto, cpu, cuda or cuda:N."), identity=False)
    bands: tuple[int, ...] | None = _option(None, Flag(
        ("--bands",), "Bands used as R,G,B (1-based), or one band [default: RGB colour interpretation, else 1,2,3].",
        parse=parse_bands,
    ))
    gsd: float | None = _option(None, Flag(
        ("--gsd",), "Reading GSD in metres [default: the model's, where the scene is finer].", kind=float
    ))
    value_range: tuple[float, float] | None = _option(None, Flag(
        ("--range",), "LOW,HIGH data values mapped to 0-255 [default: 2-98 % scene percentiles].", parse=parse_range
    ))
    tile_size: int | None = _option(None, Flag(
        ("--tile-size",), "Window side in pixels at the reading GSD [default: the model's input size].", kind=int
    ))
    overlap: int | None = _option(None, Flag(("--overlap",), "Window overlap in pixels [default: a quarter tile].", kind=int))
    batch_size: int = _option(
        DEFAULT_BATCH_SIZE, Flag(("--batch-size",), "Windows per model call.", kind=int), identity=False
    )
    readers: int | None = _option(None, None, identity=False)
    instances: Instances = _option("best", Flag(
        ("--instances",), "Keep the best-scoring instance, or every one above the threshold.", choices=INSTANCE_CHOICES
    ))
    coarse: bool = _option(True, Flag(
        ("--coarse/--no-coarse",), "Run the whole-scene coarse pass first; --no-coarse runs every window.", kind=bool
    ))
    scene_words: bool = _option(True, Flag(
        ("--scene-words/--no-scene-words",), "Resolve 'the rightmost', 'the second largest', 'in the top left corner', "
        "'north of the river' over the whole scene; --no-scene-words leaves them to each window.", kind=bool,
    ))
    tta: bool | None = _option(None, Flag(
        ("--tta/--no-tta",), "Average each window over its mirror images, the sentence rewritten for each "
        "('left' reads 'right'): four model passes instead of one [default: as the model's metadata says; "
        "on for the shipped model].", kind=bool,
    ))
    probabilities: bool = _option(False, Flag(
        ("--probabilities",), "Also write the blended probabilities (uint8 0-255 COG).", kind=bool
    ))
    vector_format: VectorFormatName = _option("gpkg", Flag(("--format",), "Vector format.", choices=VECTOR_FORMATS))
    simplify: float = _option(0.0, Flag(("--simplify",), "Polygon simplification tolerance, in map units.", kind=float))
    min_area: float = _option(0.0, Flag(("--min-area",), "Drop instances smaller than this, in m2.", kind=float))
    fill_holes: float = _option(0.0, Flag(
        ("--fill-holes",), "Fill holes smaller than this in the instances (mask and polygons), in m2.", kind=float
    ))
    min_score: float | None = _option(None, Flag(
        ("--min-score",), "Answer 'not found' when the best instance scores under this "
        "[default: the calibrated model's threshold]; 0 always writes the best candidate.", kind=float,
    ))

    def __post_init__(self) -> None:
        # Normalise first (frozen: object.__setattr__), so that equal options compare and hash equal.
        if isinstance(self.checkpoint, os.PathLike):
            object.__setattr__(self, "checkpoint", os.fspath(self.checkpoint))
        if isinstance(self.vector_format, str):
            object.__setattr__(self, "vector_format", self.vector_format.lower())
        for name in ("bands", "value_range"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str | bytes) and isinstance(value, Sequence):
                object.__setattr__(self, name, tuple(value))
        self._validate()

    def _validate(self) -> None:
        """Every check that needs neither the scene nor the model: a bad value fails before any work."""
        if not isinstance(self.device, str) or not is_device(self.device):
            raise UsageError(f"unknown device {self.device!r}; use auto, cpu, cuda or cuda:N")
        _check_bands(self.bands)
        _check_range(self.value_range)
        _check_tiling(self.tile_size, self.overlap)
        if self.gsd is not None and not _positive(self.gsd):
            raise UsageError(f"--gsd {self.gsd!r} must be a positive number of metres per pixel, e.g. 0.5")
        if not _whole(self.batch_size, 1):
            raise UsageError(f"batch size {self.batch_size!r} must be a whole number >= 1, e.g. 8")
        if self.readers is not None and not _whole(self.readers, 0):
            raise UsageError(f"readers {self.readers!r} must be a whole number >= 0")
        if self.instances not in INSTANCE_CHOICES:
            raise UsageError(f"--instances {self.instances!r} is not one of {', '.join(INSTANCE_CHOICES)}")
        if self.vector_format not in VECTOR_FORMATS:
            raise UsageError(
                f"vector format {self.vector_format!r} is not supported; use one of {', '.join(VECTOR_FORMATS)}"
            )
        for name, value in (("--simplify", self.simplify), ("--min-area", self.min_area), ("--fill-holes", self.fill_holes)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise UsageError(f"{name} {value!r} must be a number >= 0")
        if self.min_score is not None and (
            isinstance(self.min_score, bool) or not isinstance(self.min_score, int | float) or not 0 <= self.min_score <= 1
        ):
            raise UsageError(f"--min-score {self.min_score!r} must be a number from 0 to 1, e.g. 0.5")

    def identity(self) -> dict[str, Any]:
        """The options that change the outputs (hashed for ``--resume``), by field name."""
        values = asdict(self)
        return {f.name: values[f.name] for f in fields(self) if f.metadata["identity"]}


def flags() -> list[tuple[str, Flag, Any]]:
    """``(field name, flag, default)`` of every option the command line offers, in field order."""
    return [(f.name, f.metadata["flag"], f.default) for f in fields(SegmentOptions) if f.metadata["flag"] is not None]


def _whole(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: object) -> bool:
    return _number(value) and value > 0  # type: ignore[operator]  # _number: an int or float


def _check_bands(bands: tuple[int, ...] | None) -> None:
    """1 or 3 whole band numbers from 1 (whether the raster has them is checked when it opens)."""
    if bands is None:
        return
    shown = ",".join(map(str, bands)) if isinstance(bands, tuple) else repr(bands)
    if not isinstance(bands, tuple) or len(bands) not in (1, 3):
        raise UsageError(f"--bands {shown} must be 1 or 3 comma-separated band numbers, e.g. 1,2,3 or 4,3,2")
    if not all(_whole(b, 1) for b in bands):
        raise UsageError(f"--bands {shown}: bands are numbered from 1 (the first band is 1), e.g. --bands 1,2,3")


def _check_range(value_range: tuple[float, float] | None) -> None:
    """Two finite numbers, LOW below HIGH; a reversed pair is named with its swap."""
    if value_range is None:
        return
    if not isinstance(value_range, tuple) or len(value_range) != 2 or not all(map(_number, value_range)):
        raise UsageError(f"--range {value_range!r} must be two finite numbers LOW,HIGH, e.g. 0,3000")
    low, high = value_range
    if low > high:
        raise UsageError(f"--range {low:g},{high:g} is reversed: LOW comes first; use --range {high:g},{low:g}")
    if low == high:
        raise UsageError(f"--range {low:g},{high:g} is empty: LOW must be below HIGH, e.g. 0,3000")


def _check_tiling(tile: int | None, overlap: int | None) -> None:
    """What can be said of --tile-size and --overlap before the model's input size is known."""
    if tile is not None and not (_whole(tile, MIN_TILE) and tile <= MAX_TILE):
        raise UsageError(
            f"--tile-size {tile!r} must be a whole number of pixels from {MIN_TILE} to {MAX_TILE}, e.g. 256; "
            "leave it out to use the model's input size"
        )
    if overlap is not None and not _whole(overlap, 0):
        raise UsageError(f"--overlap {overlap!r} must be a whole number of pixels >= 0, e.g. 32")
    if tile is not None and overlap is not None and overlap >= tile:
        raise UsageError(f"--overlap {overlap} must be smaller than --tile-size {tile}; try --overlap {tile // 4}")
