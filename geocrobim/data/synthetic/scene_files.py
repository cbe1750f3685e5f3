"""Large synthetic scenes for the engine: a georeferenced GeoTIFF, ground-truth masks, an index.

Files written for ``OUT.tif``::

    OUT.tif              RGB uint8, tiled, compressed, internal overviews, projected CRS
    OUT_gt/NNN.tif       one uint8 mask per expression (1 = target), same grid
    OUT.json             index: grid, expressions (text, mask path, target id, bbox), objects

The scene is rendered window by window (``window`` pixels square), so memory stays
bounded for 8192 x 8192 scenes; every texture is world-anchored, so there are no seams.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.windows import Window

from geocrobim import __version__
from geocrobim.atomic import replacing, write_text
from geocrobim.data.synthetic.chips import tolerance
from geocrobim.data.synthetic.grammar import ObjectTable
from geocrobim.data.synthetic.layout import generate_layout
from geocrobim.data.synthetic.objects import Layout, SceneObject
from geocrobim.data.synthetic.pixel_grid import Grid
from geocrobim.data.synthetic.presets import sample_layout
from geocrobim.data.synthetic.referents import Referent, generate
from geocrobim.data.synthetic.render import render, render_mask
from geocrobim.errors import OutputError, UsageError

logger = logging.getLogger(__name__)

DEFAULT_CRS = "EPSG:32633"
#: top-left corner of scenes in DEFAULT_CRS (UTM 33N, near Berlin)
DEFAULT_ORIGIN = (390000.0, 5820000.0)
PRESETS = ("sample",)


def write_scene(
    path: str | Path,
    *,
    size: int = 2048,
    gsd: float = 0.5,
    seed: int = 0,
    expressions: int = 5,
    preset: str | None = None,
    crs: str = DEFAULT_CRS,
    origin: tuple[float, float] = DEFAULT_ORIGIN,
    compress: str = "deflate",
    window: int = 1024,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Generate a scene and write it as a GeoTIFF with one ground-truth mask per expression.

    Args:
        path: output GeoTIFF (``.tif``); the masks and the index go beside it.
        size: width and height in pixels.
        gsd: pixel size in metres.
        seed: the seed; the same arguments give byte-identical files.
        expressions: how many expressions (distinct targets) to generate.
        preset: None for a random scene; "sample" for the README scene (a red-roofed
            warehouse north of an east-west river among distractors; its first
            expression is "the red-roofed warehouse north of the river").
        crs: a projected CRS (metres).
        origin: (x, y) of the top-left corner in ``crs``.
        compress: "deflate" (lossless) or "jpeg" (quality 90, much smaller).
        window: rendering window side in pixels (bounds memory).
        overwrite: replace existing outputs.
        progress: called as ``progress(done, total)`` over windows.

    Returns:
        The index (also written to ``OUT.json``).
    """
    path = Path(path)
    _validate(path, size, gsd, expressions, preset, compress, window, overwrite)
    crs_obj = rasterio.crs.CRS.from_user_input(crs)
    if not crs_obj.is_projected:
        raise UsageError(f"CRS {crs} is not projected; synthetic scenes need metres (e.g. {DEFAULT_CRS})")
    extent = size * gsd
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    if preset == "sample":
        layout, fixed = sample_layout(seed, extent, gsd=gsd)
    else:
        layout, fixed = generate_layout(extent, extent, seed), None
    table = ObjectTable(layout, (0.0, 0.0, extent, extent), tolerance(gsd))
    refs = ([fixed] if fixed else []) + [
        r for r in generate(table, rng, expressions + 1, gsd=gsd) if not fixed or r.target_id != fixed.target_id
    ]
    refs = refs[:expressions]
    if not refs:
        raise UsageError(f"seed {seed} gave a scene with nothing to refer to; try another seed or a larger --size")
    transform = Affine(gsd, 0.0, origin[0], 0.0, -gsd, origin[1])  # north-up
    gt_dir = path.with_name(path.stem + "_gt")
    try:
        # Renamed in reverse order of entry: the masks' folder first, then the image.
        with replacing(path) as tmp_tif, replacing(gt_dir) as tmp_gt:
            _write_image(tmp_tif, layout, seed, size, gsd, crs_obj, transform, compress, window, progress)
            tmp_gt.mkdir(parents=True)
            entries = [
                _write_mask(tmp_gt / f"{k:03d}.tif", layout, r, k, size, gsd, crs_obj, transform) for k, r in enumerate(refs)
            ]
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}; check the folder is writable and has space") from exc
    for entry in entries:
        entry["mask"] = f"{gt_dir.name}/{Path(entry['mask']).name}"
    index = {
        "image": path.name,
        "crs": crs_obj.to_string(),
        "transform": list(transform)[:6],
        "width": size,
        "height": size,
        "gsd": gsd,
        "seed": seed,
        "preset": preset,
        "generator": f"geocrobim {__version__}: " + command_line(path.name, size, gsd, seed, expressions, preset, compress),
        "expressions": entries,
        "objects": [_object_entry(o, transform) for o in layout.objects if o.referable],
    }
    write_text(path.with_suffix(".json"), json.dumps(index, indent=1) + "\n")
    logger.info("wrote %s (%d x %d at %.2f m) with %d expressions", path, size, size, gsd, len(entries))
    return index


def command_line(name: str, size: int, gsd: float, seed: int, expressions: int, preset: str | None, compress: str) -> str:
    """The ``geocrobim synth scene`` command that regenerates a scene."""
    cmd = f"geocrobim synth scene {name} --size {size} --gsd {gsd:g} --seed {seed} --expressions {expressions}"
    cmd += f" --compress {compress}"
    return cmd + (f" --preset {preset}" if preset else "")


def _validate(
    path: Path, size: int, gsd: float, expressions: int, preset: str | None, compress: str, window: int, overwrite: bool
) -> None:
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise UsageError(f"output {path} must end in .tif")
    if size < 64 or gsd <= 0 or expressions < 1 or window < 64:
        raise UsageError(f"size={size} gsd={gsd} expressions={expressions} window={window}: "
                         "use size >= 64, gsd > 0, expressions >= 1, window >= 64")  # fmt: skip
    if preset not in (None, *PRESETS):
        raise UsageError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    if compress not in ("deflate", "jpeg"):
        raise UsageError(f"unknown compression {compress!r}; use deflate or jpeg")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --overwrite to replace it")
    if not path.parent.exists():
        raise OutputError(f"folder {path.parent} does not exist; create it first")


def _profile(size: int, count: int, crs: Any, transform: Any, compress: str) -> dict[str, Any]:
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": count, "dtype": "uint8", "crs": crs,
        "transform": transform, "tiled": True, "blockxsize": 256, "blockysize": 256, "interleave": "pixel",
    }  # fmt: skip
    if compress == "jpeg" and count == 3:
        profile.update(compress="jpeg", photometric="ycbcr", jpeg_quality=90)
    else:
        profile.update(compress="deflate", predictor=2, zlevel=6)
    return profile


def _write_image(
    path: Path, layout: Layout, seed: int, size: int, gsd: float, crs: Any, transform: Any, compress: str, window: int,
    progress: Callable[[int, int], None] | None,
) -> None:  # fmt: skip
    """Render window by window into a tiled GeoTIFF, then add overviews."""
    starts = range(0, size, window)
    total, done = len(starts) ** 2, 0
    with rasterio.open(path, "w", **_profile(size, 3, crs, transform, compress)) as dst:
        dst.colorinterp = [rasterio.enums.ColorInterp.red, rasterio.enums.ColorInterp.green, rasterio.enums.ColorInterp.blue]
        for row in starts:
            for col in starts:
                w, h = min(window, size - col), min(window, size - row)
                tile = render(layout, Grid(col, row, w, h, gsd))
                dst.write(tile.transpose(2, 0, 1), window=Window(col, row, w, h))
                done += 1
                if progress:
                    progress(done, total)
        factors = [f for f in (2, 4, 8, 16, 32) if size // f >= 256]
        if factors:
            dst.build_overviews(factors, Resampling.average)
            dst.update_tags(ns="rio_overview", resampling="average")
        dst.update_tags(SOURCE=f"geocrobim {__version__} synthetic scene, seed {seed}")


def _write_mask(
    path: Path, layout: Layout, ref: Referent, k: int, size: int, gsd: float, crs: Any, transform: Any
) -> dict[str, Any]:
    """Write one ground-truth mask (only its target's window holds data) and describe it."""
    obj = layout.objects[ref.target_id]
    x0, y0, x1, y1 = obj.footprint.bounds
    c0, r0 = max(int(np.floor(x0 / gsd)) - 1, 0), max(int(np.floor(y0 / gsd)) - 1, 0)
    c1, r1 = min(int(np.ceil(x1 / gsd)) + 1, size), min(int(np.ceil(y1 / gsd)) + 1, size)
    block = render_mask(obj, Grid(c0, r0, c1 - c0, r1 - r0, gsd))
    with rasterio.open(path, "w", **_profile(size, 1, crs, transform, "deflate")) as dst:
        dst.write(block[None], window=Window(c0, r0, c1 - c0, r1 - r0))
    rows, cols = np.nonzero(block)
    px = [int(c0 + cols.min()), int(r0 + rows.min()), int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)]
    left, top = transform @ (px[0], px[1])
    right, bottom = transform @ (px[0] + px[2], px[1] + px[3])
    return {
        "index": k,
        "text": ref.text,
        "mask": str(path),
        "target_id": ref.target_id,
        "category": ref.category,
        "bbox": [left, bottom, right, top],
        "bbox_px": px,
        "area_m2": round(float(block.sum()) * gsd * gsd, 2),
        "query": asdict(ref.query),
    }


def _object_entry(obj: SceneObject, transform: Any) -> dict[str, Any]:
    """An object's semantics and its bbox in the CRS."""
    x0, y0, x1, y1 = obj.footprint.bounds
    g = transform.a
    left, top = transform @ (x0 / g, y0 / g)
    right, bottom = transform @ (x1 / g, y1 / g)
    entry = obj.to_json()
    entry.pop("footprint")
    entry["bbox"] = [round(left, 3), round(bottom, 3), round(right, 3), round(top, 3)]
    return entry
