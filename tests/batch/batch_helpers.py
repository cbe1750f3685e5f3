"""Helpers for batch tests: a mixed archive of small real GeoTIFFs, running the CLI,
reading ledgers and outputs back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from click.testing import CliRunner
from pyproj import Transformer

EXPR = "the white building"
#: The engine options of every batch run in these tests (fast: no coarse pass).
ENGINE_ARGS = ("--device", "cpu", "--no-coarse")
DST_CRS = "EPSG:32633"
#: Scene ids of the archive, from the paths relative to its root.
#: The files `segment` writes per expression (after "<stem>.<slug>.").
SCENE_FILES = ("gpkg", "qml", "mask.tif", "mask.qml", "quicklook.png")
SCENE_IDS = ["2024-tile_a", "2024-tile_b", "2025-tile_c", "2025-tile_d", "tile_e", "utm32-tile_f"]


def write_geotiff(path: Path, data: np.ndarray, *, transform: tuple[float, ...], crs: str = "EPSG:32633") -> Path:
    """A tiled GeoTIFF of ``data`` (bands, rows, cols)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count, height, width = data.shape
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=count, dtype=data.dtype.name,
                       crs=crs, transform=Affine(*transform), tiled=True, blockxsize=64, blockysize=64) as dst:
        dst.write(data)
    return path


def _scene(rng: np.random.Generator, shape: tuple[int, int], bands: int = 3, dtype: str = "uint8",
           scale: int = 1) -> np.ndarray:
    """Dark noisy ground with one bright building-like block."""
    h, w = shape
    data = rng.integers(20, 60, (bands, h, w)).astype(dtype) * scale
    r, c = int(rng.integers(10, h // 2)), int(rng.integers(10, w // 2))
    data[:, r : r + h // 3, c : c + w // 3] = 220 * scale
    return data


def make_archive(root: Path, seed: int = 0) -> Path:
    """Six scenes in nested folders: mixed dtypes, band counts, resolutions and CRSs.

    Plus a text file and a hidden folder that must be ignored. All lie near
    480000 E / 5120000 N in UTM 33N; ``utm32/tile_f.tif`` is the same area in UTM 32N.
    """
    rng = np.random.default_rng(seed)
    x, y = 480_000.0, 5_120_000.0
    write_geotiff(root / "2024" / "tile_a.tif", _scene(rng, (96, 128)), transform=(0.5, 0, x, 0, -0.5, y))
    write_geotiff(root / "2024" / "tile_b.tif", _scene(rng, (96, 128)), transform=(0.5, 0, x + 64, 0, -0.5, y))
    write_geotiff(root / "2025" / "tile_c.tif", _scene(rng, (96, 96), dtype="uint16", scale=40),
                  transform=(0.5, 0, x, 0, -0.5, y - 48))
    write_geotiff(root / "2025" / "tile_d.tif", _scene(rng, (80, 112), bands=1),
                  transform=(0.5, 0, x + 48, 0, -0.5, y - 48))
    write_geotiff(root / "tile_e.tif", _scene(rng, (64, 64)), transform=(1.0, 0, x + 128, 0, -1.0, y))
    fx, fy = Transformer.from_crs("EPSG:32633", "EPSG:32632", always_xy=True).transform(x - 80, y)
    write_geotiff(root / "utm32" / "tile_f.tif", _scene(rng, (96, 96)), crs="EPSG:32632",
                  transform=(0.5, 0, round(fx), 0, -0.5, round(fy)))
    (root / "readme.txt").write_text("not a raster\n")
    write_geotiff(root / ".hidden" / "skip.tif", _scene(rng, (32, 32)), transform=(0.5, 0, x, 0, -0.5, y))
    return root


def invoke(*args: object) -> Any:
    """Run ``geocrobim <args>`` in this process (click's runner); stdout and stderr apart."""
    from geocrobim.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args], obj={})


def batch_args(inputs: object, out: Path, checkpoint: Path, *extra: object) -> list[object]:
    return ["batch", inputs, "-e", EXPR, "-o", out, "--checkpoint", checkpoint, *ENGINE_ARGS, *extra]


def result_files(out: Path) -> set[str]:
    """Every file under ``out`` (relative), ledgers aside."""
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.name.startswith("ledger")}


def temp_leftovers(out: Path) -> list[str]:
    """Staging folders, engine work folders and temporary files anywhere under ``out``."""
    marks = (".staging", ".geocrobim-", ".tmp-", ".warp-")
    return [p.relative_to(out).as_posix() for p in out.rglob("*") if any(m in p.name for m in marks)]


def ledger(out: Path, name: str = "ledger.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / name).read_text().splitlines() if line.strip()]


def item_records(out: Path, name: str = "ledger.jsonl") -> list[dict[str, Any]]:
    return [r for r in ledger(out, name) if r["type"] == "item"]


def read_mask(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def masks_of(out: Path) -> dict[str, np.ndarray]:
    """Every scene mask under ``out``, by relative path."""
    return {p.relative_to(out).as_posix(): read_mask(p) for p in sorted(out.glob("*/*.mask.tif"))}
