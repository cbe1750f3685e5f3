"""Write referring chips from a scene and the user's layers, in RISBench's layout.

::

    OUT/img_rgb/<split>_c<chip>_<k>.png   the chip (RGB uint8), repeated per expression as in RISBench
    OUT/mask/<same name>.png              0 / 255, the target's footprint
    OUT/output_phrase_train.txt           "<file name> <expression>" per line (training part)
    OUT/output_phrase_val.txt             the same for the held-out part
    OUT/index.jsonl                       per line: file, split, expression, query, target feature,
                                          chip bounds in the scene's CRS, chip window
    OUT/refdata.json                      the settings and counts
    OUT/targets.gpkg                      each pair's target footprint, labelled with its expression
    OUT/chips.gpkg                        each chip's footprint and split (to see the split in QGIS)

Everything is written into a hidden folder next to OUT and renamed to OUT at the end,
so a failure leaves nothing at OUT. The scene is stretched once (as ``geocrobim segment``
reads it), so a panchromatic or 16-bit scene becomes the same uint8 RGB the model sees.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from PIL import Image
from rasterio.enums import Resampling

from geocrobim.data.refdata.describe import describe, targets
from geocrobim.data.refdata.layers import (
    Features,
    LayerSpec,
    read_layers,
    read_polygons,
)
from geocrobim.data.refdata.queries import query_to_json
from geocrobim.data.refdata.split import HOLDOUT, TRAIN, Chip, plan_chips
from geocrobim.data.refdata.world import ChipWorld, burn, chip_world
from geocrobim.data.synthetic.phrases import realise
from geocrobim.errors import OutputError, RasterError, UsageError
from geocrobim.raster import Scene, Stretch, compute_stretch, open_scene, read_window

logger = logging.getLogger(__name__)

INDEX = "index.jsonl"
SUMMARY = "refdata.json"
TARGETS = "targets.gpkg"
CHIPS = "chips.gpkg"
#: a chip with less valid data than this is skipped.
MIN_VALID = 0.5


def checkpoint_reading(checkpoint: str | os.PathLike[str] = "default") -> tuple[float, int]:
    """(gsd in metres, input size in pixels) a checkpoint reads at, from its JSON files (no torch)."""
    from geocrobim.weights import DEFAULT_CHECKPOINT_DIR

    folder = DEFAULT_CHECKPOINT_DIR if str(checkpoint) == "default" else Path(checkpoint)
    try:
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {folder}/metadata.json and config.json ({exc}); pass --gsd and --size") from exc
    gsd, size = meta.get("gsd_m"), config.get("image_size")
    if not gsd or not size:
        raise UsageError(f"{folder} does not record gsd_m and image_size; pass --gsd and --size")
    return float(gsd), int(size)


def unknown_words(checkpoint: str | os.PathLike[str], words: Sequence[str]) -> list[str]:
    """The words of ``words`` a checkpoint's vocabulary lacks (empty when it has no ``vocab.txt``)."""
    from geocrobim.weights import DEFAULT_CHECKPOINT_DIR

    folder = DEFAULT_CHECKPOINT_DIR if str(checkpoint) == "default" else Path(checkpoint)
    try:
        vocab = set((folder / "tokenizer" / "vocab.txt").read_text(encoding="utf-8").split())
    except OSError:
        return []
    split = {w for text in words for w in re.findall(r"[a-z]+", str(text).lower())}
    return sorted(split - vocab)


@dataclass
class Source:
    """A scene, its stretch and the features: makes the image, validity and world of any chip."""

    scene: Scene
    stretch: Stretch
    features: Features

    @classmethod
    def open(
        cls,
        scene_path: str | os.PathLike[str],
        layers: Sequence[LayerSpec],
        *,
        bands: Sequence[int] | None = None,
        value_range: tuple[float, float] | None = None,
        **layer_options: Any,
    ) -> Source:
        """Open the scene (it must have a CRS), compute its stretch, read the layers.

        ``bands`` and ``value_range`` are ``segment``'s ``--bands`` and ``--range``: the
        chips must be read as the model will read the scene.
        """
        scene = open_scene(scene_path, bands)
        if scene.crs is None:
            raise RasterError(f"{scene.path} has no CRS, so the layers cannot be placed on it; "
                              "georeference it (gdal_edit.py -a_srs EPSG:XXXX, or gdalwarp with GCPs)")  # fmt: skip
        t = scene.transform
        if t.b != 0 or t.d != 0:
            raise RasterError(f"{scene.path} is rotated (its geotransform has rotation terms); "
                              "warp it north-up first (gdalwarp in.tif out.tif)")  # fmt: skip
        left, bottom, right, top = scene.bounds
        features = read_layers(layers, scene.crs.to_wkt(), (left, bottom, right, top), **layer_options)
        with scene.open() as src:
            stretch = compute_stretch(src, scene, value_range)
        return cls(scene, stretch, features)

    def read(self, chip: Chip, src: Any) -> tuple[np.ndarray, np.ndarray]:
        """(rgb (size, size, 3) uint8, valid (size, size) bool) of a chip."""
        rgb, valid = read_window(src, self.scene, chip.window, self.stretch, out_shape=(chip.size, chip.size),
                                 resampling=Resampling.bilinear)  # fmt: skip
        return np.ascontiguousarray(rgb.transpose(1, 2, 0)), valid

    def world(self, chip: Chip, valid: np.ndarray | None) -> ChipWorld:
        """The features of a chip, as the grammar sees them."""
        return chip_world(self.features, chip, self.scene.transform, valid)


@dataclass(frozen=True)
class RefdataSummary:
    """What :func:`make_refdata` wrote."""

    out: Path
    chips: dict[str, int]
    pairs: dict[str, int]
    gsd: float
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "chips": self.chips, "pairs": self.pairs, "gsd": self.gsd, "size": self.size}


def make_refdata(
    scene_path: str | os.PathLike[str],
    layers: Sequence[LayerSpec | str],
    out: str | os.PathLike[str],
    *,
    gsd: float | None = None,
    size: int | None = None,
    checkpoint: str = "default",
    bands: Sequence[int] | None = None,
    value_range: tuple[float, float] | None = None,
    category_field: str | None = None,
    attributes: Mapping[str, str] | None = None,
    target_categories: Sequence[str] | None = None,
    holdout: float = 0.3,
    holdout_side: str = "east",
    holdout_polygon: str | os.PathLike[str] | None = None,
    overlap: float = 0.5,
    per_chip: int = 4,
    min_pixels: float = 24.0,
    seed: int = 0,
    make_valid: bool = False,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RefdataSummary:
    """Write referring chips of ``scene_path`` described from ``layers`` to ``out``.

    Args:
        scene_path: the raster (any GDAL raster with a CRS; 1 or 3+ bands, 8 or 16 bit, float).
        layers: vector layers (``PATH[:LAYER][=CATEGORY]`` strings or :class:`LayerSpec`).
        out: output folder (must not exist unless ``overwrite``).
        gsd: metres per chip pixel (None: the checkpoint's ``gsd_m``).
        size: chip side in pixels (None: the checkpoint's input size).
        checkpoint: the checkpoint whose reading GSD and size are the defaults.
        bands: bands read as R, G, B, or one band (``segment --bands``; None: as segment chooses).
        value_range: data values mapped to 0 and 255 (``segment --range``; None: the scene's 2-98 %).
        category_field: attribute holding the category, where a layer has it.
        attributes: grammar attribute -> field (``{"colour": "roof_colour"}``).
        target_categories: categories that may be targets (None: every polygon category but rivers).
        holdout: fraction of the scene held out as a strip (ignored with ``holdout_polygon``).
        holdout_side: the strip's side: east, west, north or south.
        holdout_polygon: a polygon file whose area is held out instead of a strip.
        overlap: fraction shared by neighbouring chips of a part.
        per_chip: at most this many expressions (distinct targets) per chip.
        min_pixels: smallest target, in chip pixels.
        seed: seeds the choice and phrasing of expressions.
        make_valid: repair invalid geometries instead of refusing them.
        overwrite: replace an existing ``out``.
        progress: called as ``progress(done, total)`` in chips.

    Returns:
        The counts written.

    Raises:
        UsageError, RasterError, InputNotFoundError, OutputError: bad input or output, one line each.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputError(f"output {out} already exists; pass --overwrite to replace it or choose another -o")
    if per_chip < 1:
        raise UsageError(f"--per-chip {per_chip} must be at least 1")
    if gsd is None or size is None:
        ck_gsd, ck_size = checkpoint_reading(checkpoint)
        gsd, size = gsd or ck_gsd, size or ck_size
    if gsd <= 0 or size < 32:
        raise UsageError(f"--gsd {gsd} / --size {size}: use a positive GSD in metres and a size of at least 32 px")
    specs = [s if isinstance(s, LayerSpec) else LayerSpec.parse(s) for s in layers]
    if not specs:
        raise UsageError("no layer given; name at least one vector layer after the scene")
    source = Source.open(scene_path, specs, bands=bands, value_range=value_range, category_field=category_field,
                         attributes=attributes, make_valid=make_valid)  # fmt: skip
    categories = frozenset(c.strip().lower() for c in target_categories) if target_categories else None
    if categories is not None:
        unknown = sorted(categories - set(source.features.category))
        if unknown:
            raise UsageError(f"--target {unknown[0]!r} is no category of the layers' features "
                             f"(they have {', '.join(sorted(set(source.features.category)))}); name one of those")  # fmt: skip
    scene = source.scene
    words = [*source.features.category, *(v for a in source.features.attrs.values() for v in a if v)]
    unknown = unknown_words(checkpoint, words)
    if unknown:
        logger.warning("the %s checkpoint's vocabulary lacks %s: the model reads these words as unknown pieces; "
                       "prefer words it knows (e.g. building, house, tank) via =CATEGORY", checkpoint, ", ".join(unknown[:8]))  # fmt: skip
    polygon = None
    if holdout_polygon is not None:
        polygon = read_polygons(Path(holdout_polygon), scene.crs.to_wkt(), scene.bounds)  # type: ignore[union-attr]
    chips = plan_chips(scene, size=size, gsd=gsd, overlap=overlap, holdout=holdout, side=holdout_side, polygon=polygon)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"cannot create {out} ({exc.strerror}); choose a writable folder") from exc
    try:
        counts = _write(source, chips, staging, categories, per_chip, min_pixels, seed, progress)
        for split in (TRAIN, HOLDOUT):
            if counts["pairs"][split] == 0:
                part = "training part" if split == TRAIN else "held-out part"
                raise UsageError(
                    f"no feature of the {part} could be described unambiguously in a whole chip "
                    f"({len([c for c in chips if c.split == split])} chips of {size} px at {gsd:g} m); "
                    "check that the layers' features lie in it and are at least a few pixels, or move the holdout"
                )
        settings = {
            "scene": str(scene.path), "layers": [s.label for s in specs], "crs": scene.crs.to_string(),  # type: ignore[union-attr]
            "gsd": gsd, "size": size, "holdout": None if polygon is not None else holdout, "holdout_side": holdout_side,
            "holdout_polygon": None if holdout_polygon is None else str(holdout_polygon), "overlap": overlap,
            "per_chip": per_chip, "seed": seed, "category_field": category_field, "attributes": dict(attributes or {}),
            "splits": {"train": TRAIN, "holdout": HOLDOUT}, **counts,
        }  # fmt: skip
        (staging / SUMMARY).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        _install(staging, out, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("wrote %d training and %d held-out pairs to %s", counts["pairs"][TRAIN], counts["pairs"][HOLDOUT], out)
    return RefdataSummary(out, counts["chips"], counts["pairs"], gsd, size)


def _write(
    source: Source,
    chips: list[Chip],
    root: Path,
    categories: frozenset[str] | None,
    per_chip: int,
    min_pixels: float,
    seed: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, dict[str, int]]:
    for sub in ("img_rgb", "mask"):
        (root / sub).mkdir()
    lines: dict[str, list[str]] = {TRAIN: [], HOLDOUT: []}
    used = {TRAIN: 0, HOLDOUT: 0}
    pairs: list[dict[str, Any]] = []
    written: list[Chip] = []
    crs = source.scene.crs.to_string()  # type: ignore[union-attr]
    feats = source.features
    with source.scene.open() as src, (root / INDEX).open("w", encoding="utf-8") as index:
        for done, chip in enumerate(chips, 1):
            rgb, valid = source.read(chip, src)
            if valid.mean() >= MIN_VALID:
                world = source.world(chip, valid)
                table = world.table()
                rng = np.random.default_rng(np.random.SeedSequence([seed, 0 if chip.split == TRAIN else 1, chip.index]))
                rows = targets(world, table, categories=categories, min_pixels=min_pixels)
                rng.shuffle(rows)
                k = 0
                for row in rows:
                    query = describe(table, row, rng)
                    if query is None:
                        continue
                    obj = table.objects[row]
                    name = chip.name(k)
                    text = realise(query, rng)
                    if k == 0:
                        image = Image.fromarray(rgb)
                    image.save(root / "img_rgb" / name, compress_level=3)
                    mask = burn(obj.polygon, chip) & valid
                    Image.fromarray(mask.astype(np.uint8) * 255).save(root / "mask" / name, compress_level=3)
                    lines[chip.split].append(f"{name} {text}")
                    record = {
                        "file": name, "split": chip.split, "expression": text, "query": query_to_json(query),
                        "target": {"row": int(obj.id), "layer": str(feats.layer[obj.id]), "fid": int(feats.fid[obj.id]),
                                   "category": obj.category},
                        "bounds": list(chip.bounds(source.scene.transform)), "crs": crs, "chip": chip.to_json(),
                    }  # fmt: skip
                    index.write(json.dumps(record) + "\n")
                    pairs.append({"geom": feats.geoms[obj.id], "file": name, "split": chip.split, "expression": text,
                                  "layer": record["target"]["layer"], "feature_id": record["target"]["fid"]})  # fmt: skip
                    k += 1
                    if k >= per_chip:
                        break
                used[chip.split] += k > 0
                if k:
                    written.append(chip)
            if progress is not None:
                progress(done, len(chips))
    for split, rows_ in lines.items():
        (root / f"output_phrase_{split}.txt").write_text("".join(line + "\n" for line in rows_), encoding="utf-8")
    _write_layers(root, source.scene, pairs, written)
    return {"chips": used, "pairs": {s: len(v) for s, v in lines.items()}}


def _write_layers(root: Path, scene: Scene, pairs: list[dict[str, Any]], chips: list[Chip]) -> None:
    """Targets (labelled with their expressions) and chip footprints as GeoPackages, for a look in QGIS."""
    from pyproj import CRS

    from geocrobim.vector import PolygonTable, write_vector

    crs = CRS.from_user_input(scene.crs.to_wkt())  # type: ignore[union-attr]

    def column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
        return np.asarray([r[key] for r in rows], dtype=np.int64 if key in ("feature_id", "index") else object)

    keys = ("file", "split", "expression", "layer", "feature_id")
    targets = PolygonTable(np.asarray([p["geom"] for p in pairs], dtype=object), {k: column(pairs, k) for k in keys}, crs)
    write_vector(targets, root / TARGETS, layer="targets", label_field="expression")
    rows = [{"split": c.split, "index": c.index, "geom": shapely.box(*c.bounds(scene.transform))} for c in chips]
    boxes = PolygonTable(np.asarray([r["geom"] for r in rows], dtype=object),
                         {k: column(rows, k) for k in ("split", "index")}, crs)  # fmt: skip
    write_vector(boxes, root / CHIPS, layer="chips", label_field="split")


def _install(staging: Path, out: Path, overwrite: bool) -> None:
    """Rename the finished folder to ``out`` (replacing an old one only with ``overwrite``)."""
    old = None
    if out.exists():
        if not overwrite:
            raise OutputError(f"output {out} already exists; pass --overwrite to replace it or choose another -o")
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
    try:
        os.replace(staging, out)
    except OSError as exc:
        if old is not None:
            os.replace(old, out)
        raise OutputError(f"cannot write {out} ({exc.strerror}); choose a writable folder") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_index(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a refdata folder's index."""
    path = Path(root) / INDEX
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
