"""Raster mask -> one polygon per connected foreground component, block by block.

The band is read one block at a time (never the whole scene), each block's foreground is
polygonised by GDAL, pieces that reach an internal block edge are unioned so that an object
cut by the block grid is one feature again, and the clean-up (holes, small parts, simplify)
and measures run vectorised over all polygons. Blocks go to a process pool on multi-core
machines: GDAL's polygoniser holds the GIL, so threads would not help.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from geocrobim.errors import UsageError
from geocrobim.raster import open_scene
from geocrobim.run_warnings import warn
from geocrobim.vector import cleanup
from geocrobim.vector.blocks import BlockPieces, BlockTask, Foreground, polygonize_block, polygonize_task
from geocrobim.vector.measures import area_m2, perimeter_m, to_pyproj
from geocrobim.vector.table import PolygonTable

logger = logging.getLogger(__name__)

#: Default block edge in pixels: big enough that few objects are cut, small enough that a
#: block (uint8 values + bool mask) stays a few MB.
DEFAULT_BLOCK_SIZE = 2048
#: Below this many blocks a process pool costs more than it saves.
_MIN_BLOCKS_FOR_POOL = 4

Progress = Callable[[int, int], None]


def polygonize(
    raster_path: str | os.PathLike[str],
    *,
    band: int = 1,
    threshold: float | None = None,
    simplify: float = 0.0,
    min_area: float = 0.0,
    fill_holes_below: float = 0.0,
    block_size: int | None = None,
    attributes: Mapping[str, Any] | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    as_table: bool = False,
    warn_units: bool = True,
) -> Any:
    """Polygons of the foreground of a raster band, one feature per connected component.

    Works on any single-band mask or probability raster, not only geocrobim's. Components
    are 4-connected (GDAL's default). Nodata, alpha and internal-mask pixels are never
    foreground.

    Args:
        raster_path: the raster.
        band: 1-based band index.
        threshold: None: ``value > 0`` is foreground (binary masks). Otherwise
            ``value >= threshold`` in raster units (e.g. 128 for a uint8 0-255 probability);
            a fraction strictly between 0 and 1 on an integer raster is read as a share of
            the dtype's maximum (0.5 on uint8 -> 127.5).
        simplify: Douglas-Peucker tolerance in map units, topology-preserving; 0 keeps
            every pixel corner.
        min_area: drop polygons smaller than this many square metres.
        fill_holes_below: fill holes smaller than this many square metres.
        block_size: block edge in pixels (rounded up to whole internal blocks); default 2048.
        attributes: extra columns set to the same value on every feature (expression,
            score, model_id, scene, ...), placed before the measures.
        workers: processes for the blocks; None picks one per usable core for rasters of
            several blocks (in this process when torch is loaded: forking it is unsafe),
            1 keeps everything in this process.
        progress: called as ``progress(done_blocks, total_blocks)``.
        as_table: return a :class:`PolygonTable` (no pandas import, what ``geocrobim
            vectorize`` uses) instead of a GeoDataFrame.
        warn_units: warn that areas are not in metres when the raster has no CRS (a caller
            that says so about its own input, naming it, passes False).

    Returns:
        A GeoDataFrame (or :class:`PolygonTable`) in the raster's CRS with the
        ``attributes`` columns, ``area_m2`` (equal-area when the CRS is geographic),
        ``perimeter_m`` and the Polygons; empty, with the same columns, when there is no
        foreground.

    Raises:
        InputNotFoundError: the path does not exist.
        RasterError: the file is not a readable raster, or is truncated.
        UsageError: bad band, threshold, block size or option values.
    """
    _check_options(simplify=simplify, min_area=min_area, fill_holes_below=fill_holes_below, workers=workers)
    path = Path(raster_path)
    scene = open_scene(path, bands=[band])  # one-line errors: missing, not a raster, bad band
    with scene.open() as src:
        foreground = Foreground(_threshold_in_raster_units(threshold, src.dtypes[band - 1]))
        windows = block_windows(src, band, block_size)
        cache = _cache_bytes(src, band, windows[0])
        tasks = [BlockTask(str(path), band, w, src.width, src.height, src.transform, foreground, cache) for w in windows]
        inner, border = [], []
        with rasterio.Env(GDAL_CACHEMAX=cache):
            for pieces in _run(src, tasks, workers, progress):  # build as they come: bounded memory
                inner.append(pieces.inner.geometries())
                border.append(pieces.border.geometries())
        crs = to_pyproj(src.crs)
        transform = src.transform
    if crs is None and warn_units:
        warn(logger, "%s has no CRS; areas and perimeters are in pixel/CRS units, not metres", path)

    merged = cleanup.to_map(cleanup.merge_border_pieces(np.concatenate(border)), transform)
    geoms = np.concatenate([*inner, merged])
    del inner, border, merged
    geoms = cleanup.fill_holes(geoms, fill_holes_below, lambda g: area_m2(g, crs))
    if min_area > 0 and len(geoms):
        geoms = geoms[area_m2(geoms, crs) >= min_area]
    geoms = cleanup.simplify(geoms, simplify)
    columns: dict[str, Any] = {name: _column(value, len(geoms)) for name, value in (attributes or {}).items()}
    columns["area_m2"] = area_m2(geoms, crs)
    columns["perimeter_m"] = perimeter_m(geoms, crs)
    logger.info("polygonised %s: %d polygons from %d blocks", path.name, len(geoms), len(tasks))
    table = PolygonTable(geoms, columns, crs)
    return table if as_table else table.to_geodataframe()


def block_windows(src: Any, band: int, block_size: int | None) -> list[Window]:
    """Windows covering the raster, aligned to whole internal blocks, row-major.

    Args:
        src: an open dataset.
        band: 1-based band (its internal block shape sets the alignment).
        block_size: wanted edge in pixels; rounded up to a multiple of the internal block.
    """
    size = DEFAULT_BLOCK_SIZE if block_size is None else block_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise UsageError(f"block size {block_size!r} is not a positive number of pixels; use e.g. 2048")
    block_h, block_w = src.block_shapes[band - 1]
    step_x = max(block_w, math.ceil(size / block_w) * block_w)
    step_y = max(block_h, math.ceil(size / block_h) * block_h)
    return [
        Window(col, row, min(step_x, src.width - col), min(step_y, src.height - row))
        for row in range(0, src.height, step_y)
        for col in range(0, src.width, step_x)
    ]


def _cache_bytes(src: Any, band: int, window: Window) -> int:
    """GDAL cache for reading (see :class:`BlockTask`): 8 MB when the blocks are tiles inside
    one window, else one row of windows (at most 256 MB), as strips span several windows."""
    block_h, block_w = src.block_shapes[band - 1]
    if block_w <= window.width:
        return 8 * 2**20
    row = src.width * int(window.height) * np.dtype(src.dtypes[band - 1]).itemsize
    return int(min(max(row, 8 * 2**20), 256 * 2**20))


def _run(src: Any, tasks: list[BlockTask], workers: int | None, progress: Progress | None) -> Iterator[BlockPieces]:
    """Polygonise every block, in this process or in a pool; yields in task order."""
    n_workers = _worker_count(workers, len(tasks))
    total = len(tasks)
    if progress:
        progress(0, total)
    if n_workers <= 1:
        for done, task in enumerate(tasks, 1):
            yield polygonize_block(src, task)
            if progress:
                progress(done, total)
        return
    context = multiprocessing.get_context(_start_method())
    with concurrent.futures.ProcessPoolExecutor(n_workers, mp_context=context) as pool:
        for done, pieces in enumerate(pool.map(polygonize_task, tasks), 1):
            yield pieces
            if progress:
                progress(done, total)


def _worker_count(workers: int | None, n_tasks: int) -> int:
    """Explicit ``workers``, else one per usable core when forking is safe and worth it."""
    if workers is not None:
        return min(workers, n_tasks)
    if n_tasks < _MIN_BLOCKS_FOR_POOL or not _fork_is_safe():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, n_tasks)


def _fork_is_safe() -> bool:
    """Forking copies this process: fine for a CLI or a notebook, not once torch's native
    thread pools exist (the segmentation engine), where a forked child can deadlock."""
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin" and "torch" not in sys.modules


def _start_method() -> str:
    """``fork`` when safe: workers start instantly and share the parent's imports. Otherwise
    (only with explicit ``workers``) a forkserver or spawn starts clean workers; those
    re-import the caller's main module, so scripts need an ``if __name__ == "__main__"`` guard."""
    if _fork_is_safe():
        return "fork"
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _threshold_in_raster_units(threshold: float | None, dtype: str) -> float | None:
    if threshold is None:
        return None
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or math.isnan(threshold):
        raise UsageError(f"threshold {threshold!r} is not a number; use e.g. 128 (uint8) or 0.5")
    kind = np.dtype(dtype).kind
    if kind in "iu" and 0 < threshold < 1:
        return float(threshold) * float(np.iinfo(dtype).max)
    return float(threshold)


def _check_options(**values: float | int | None) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            flag = name.replace("_", "-")
            raise UsageError(f"{flag} {value!r} must be a number >= 0")
    if values.get("workers") is not None and values["workers"] < 1:  # type: ignore[operator]  # workers, when given, is an int
        raise UsageError(f"workers {values['workers']!r} must be >= 1")


def _column(value: Any, n: int) -> np.ndarray:
    """A constant column of length ``n`` whose dtype survives ``n == 0`` (for the layer schema)."""
    if isinstance(value, str) or value is None:
        return np.full(n, value, dtype=object)
    return np.full(n, value)
