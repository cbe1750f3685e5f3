"""Merged products of a batch, per expression, in ``OUTDIR/merged/``:

- ``<slug>.mask.vrt``: a VRT mosaic of the scenes' mask COGs (:mod:`.vrt`). Masks in
  another CRS than the target are first reprojected (nearest neighbour) into mask COGs
  under ``merged/warped/`` (rebuilt only when their source is newer);
- ``<slug>.gpkg``: every scene's polygons in one GeoPackage layer, reprojected to the
  target CRS, with a ``scene_id`` attribute (the engine's own ``scene`` attribute, the
  file name, is kept).

The target CRS is ``dst_crs`` when given, else the CRS most scenes have. Scenes without
a CRS cannot be placed and are left out of both products, with a warning.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geocrobim.batch.items import MERGED_DIR
from geocrobim.batch.vrt import write_vrt
from geocrobim.errors import UsageError

logger = logging.getLogger(__name__)

#: The masks' nodata (geocrobim.inference.masks.MASK_NODATA; not imported: it pulls in torch).
MASK_NODATA = 255
_MASK_SUFFIX = ".mask.tif"


@dataclass(frozen=True)
class MergedProduct:
    """The merged outputs of one expression (paths absolute; ``mask`` None if no mask could be placed)."""

    expression: str
    mask: Path | None
    vector: Path
    scenes: int

    def to_dict(self) -> dict[str, Any]:
        return {"expression": self.expression, "mask": None if self.mask is None else str(self.mask),
                "vector": str(self.vector), "scenes": self.scenes}


@dataclass(frozen=True)
class _Entry:
    scene_id: str
    mask: Path
    vector: Path
    crs: str | None


def merge_outputs(
    output_dir: Path, records: Sequence[dict[str, Any]], dst_crs: str | None = None
) -> list[MergedProduct]:
    """Build the merged products from completed ledger records.

    Args:
        output_dir: the batch's output folder.
        records: one completed (``status == "ok"``) record per scene to include.
        dst_crs: target CRS (anything pyproj understands), None: the most common one.

    Returns:
        One product per expression, in order of first appearance.

    Raises:
        UsageError: ``dst_crs`` is not a CRS.
    """
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    groups = _group(output_dir, records)
    if not groups:
        return []
    try:
        target = CRS.from_user_input(dst_crs) if dst_crs else _most_common(groups)
    except (CRSError, ValueError) as exc:
        raise UsageError(f"--dst-crs {dst_crs!r} is not a CRS ({exc}); give e.g. EPSG:3857") from None
    folder = output_dir / MERGED_DIR
    folder.mkdir(exist_ok=True)
    products = []
    for slug, (expression, entries) in _unique_slugs(groups).items():
        placed = [e for e in entries if e.crs is not None]
        for entry in entries:
            if entry.crs is None:
                logger.warning("scene %s has no CRS; the merged %r products leave it out", entry.scene_id, expression)
        mask = None
        if placed and target is not None:
            grid = _native_grid(placed, target)
            sources = [_in_crs(e, target, folder / "warped", grid) for e in placed]
            mask = write_vrt(sources, folder / f"{slug}.mask.vrt", nodata=MASK_NODATA)
        vector = _merge_vectors(placed, target, folder / f"{slug}.gpkg")
        products.append(MergedProduct(expression, mask, vector, len(placed)))
    return products


def _group(output_dir: Path, records: Sequence[dict[str, Any]]) -> dict[str, list[_Entry]]:
    groups: dict[str, list[_Entry]] = {}
    for record in sorted(records, key=lambda r: r["scene_id"]):
        for result in record.get("results", []):
            mask, vector = output_dir / result["mask"], output_dir / result["vector"]
            entry = _Entry(record["scene_id"], mask, vector, record.get("crs"))
            groups.setdefault(result["expression"], []).append(entry)
    return groups


def _most_common(groups: dict[str, list[_Entry]]) -> Any:
    from rasterio.crs import CRS

    counts = Counter(e.crs for entries in groups.values() for e in entries if e.crs is not None)
    return CRS.from_user_input(counts.most_common(1)[0][0]) if counts else None


def _unique_slugs(groups: dict[str, list[_Entry]]) -> dict[str, tuple[str, list[_Entry]]]:
    """File-name slug per expression: the engine's (from a mask's name), suffixed on collision."""
    out: dict[str, tuple[str, list[_Entry]]] = {}
    for number, (expression, entries) in enumerate(groups.items(), start=1):
        name = entries[0].mask.name
        stem_and_slug = name[: -len(_MASK_SUFFIX)] if name.endswith(_MASK_SUFFIX) else ""
        base = stem_and_slug.split(".")[-1] if "." in stem_and_slug else f"expression-{number}"
        slug, count = base, 1
        while slug in out:
            count += 1
            slug = f"{base}-{count}"
        out[slug] = (expression, entries)
    return out


def _native_grid(entries: Sequence[_Entry], target: Any) -> tuple[float, float, float, float] | None:
    """``(x0, y0, res_x, res_y)``: a pixel corner and the finest pixel size among masks
    already in ``target``; warped masks are put on that grid, so the mosaic need not
    resample anything."""
    import rasterio

    grids = []
    for entry in entries:
        with rasterio.open(entry.mask) as src:
            if src.crs == target:
                grids.append((src.transform.c, src.transform.f, *src.res))
    return min(grids, key=lambda g: (g[2], g[3])) if grids else None


def _in_crs(entry: _Entry, target: Any, warped: Path, grid: tuple[float, float, float, float] | None) -> Path:
    """The entry's mask, or its reprojection into ``target`` (cached by modification time)."""
    import rasterio

    with rasterio.open(entry.mask) as src:
        if src.crs == target:
            return entry.mask
    out = warped / entry.scene_id / entry.mask.name
    if out.exists() and out.stat().st_mtime >= entry.mask.stat().st_mtime:
        with rasterio.open(out) as done:
            if done.crs == target and (grid is None or _on_grid(done.transform, grid)):
                return out
    out.parent.mkdir(parents=True, exist_ok=True)
    _warp_mask(entry.mask, out, target, grid)
    return out


def _on_grid(transform: Any, grid: tuple[float, float, float, float]) -> bool:
    x0, y0, res_x, res_y = grid
    steps = ((transform.c - x0) / res_x, (y0 - transform.f) / res_y)
    return (transform.a, -transform.e) == (res_x, res_y) and all(abs(s - round(s)) < 1e-6 for s in steps)


def _snap(transform: Any, width: int, height: int, grid: tuple[float, float, float, float]) -> tuple[Any, int, int]:
    """The smallest window of ``grid`` covering a transform's extent."""
    from affine import Affine

    x0, y0, res_x, res_y = grid
    left, top = transform.c, transform.f
    right, bottom = left + width * transform.a, top + height * transform.e
    col0, row0 = math.floor((left - x0) / res_x + 1e-9), math.floor((y0 - top) / res_y + 1e-9)
    col1, row1 = math.ceil((right - x0) / res_x - 1e-9), math.ceil((y0 - bottom) / res_y - 1e-9)
    return Affine(res_x, 0.0, x0 + col0 * res_x, 0.0, -res_y, y0 - row0 * res_y), col1 - col0, row1 - row0


def _warp_mask(source: Path, out: Path, target: Any, grid: tuple[float, float, float, float] | None) -> None:
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject

    from geocrobim.raster import atomic_path, write_cog

    with rasterio.open(source) as src, tempfile.TemporaryDirectory(dir=out.parent, prefix=".warp-") as tmp:
        transform, width, height = calculate_default_transform(src.crs, target, src.width, src.height, *src.bounds)
        if grid is not None:  # the extent, on the mosaic's grid and at its resolution
            transform, width, height = _snap(transform, width, height, grid)
        profile = {
            "driver": "GTiff", "dtype": "uint8", "count": 1, "crs": target, "transform": transform, "width": width,
            "height": height, "nodata": MASK_NODATA, "tiled": True, "blockxsize": 256, "blockysize": 256,
            "compress": "deflate",
        }
        plain = Path(tmp) / "warped.tif"
        with rasterio.open(plain, "w", **profile) as dst:
            reproject(
                rasterio.band(src, 1), rasterio.band(dst, 1), src_nodata=MASK_NODATA, dst_nodata=MASK_NODATA,
                resampling=Resampling.nearest, init_dest_nodata=True,
            )
        with atomic_path(out, overwrite=True) as final:
            write_cog(plain, final, nodata=MASK_NODATA, resampling="nearest")


def _merge_vectors(entries: Sequence[_Entry], target: Any, path: Path) -> Path:
    import geopandas as gpd
    import pandas as pd

    from geocrobim.vector import write_vector

    frames = []
    for entry in entries:
        if entry.vector.suffix == ".parquet":
            layer = gpd.read_parquet(entry.vector)
        else:  # a GeoPackage also holds the layer_styles table: name the layer (the engine names it by the file)
            layer = gpd.read_file(entry.vector, layer=entry.vector.stem if entry.vector.suffix == ".gpkg" else None)
        if layer.crs is None:
            layer = layer.set_crs(entry.crs)
        layer = layer.to_crs(target)
        layer.insert(0, "scene_id", entry.scene_id)
        frames.append(layer)
    if frames:
        merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=target)
    else:
        merged = gpd.GeoDataFrame({"scene_id": []}, geometry=gpd.GeoSeries([], crs=target), crs=target)
    return write_vector(merged, path, format="gpkg", layer=path.stem, overwrite=True)
