"""Benchmark: mask -> GeoPackage, geocrobim vs the peers' common baseline.

Scene: a 10,000 x 10,000 uint8 mask (EPSG:32633, 0.5 m, tiled 512 DEFLATE GeoTIFF) with
~20,000 building-like rectangles whose left and right edges jitter by up to 2 px per row,
which merge into ~13-16 thousand jagged polygons.

Baseline (what samgeo's ``raster_to_vector`` and most notebooks do): read the whole band,
``rasterio.features.shapes(arr, mask=arr > 0)``, ``shapely.geometry.shape`` per feature,
a GeoDataFrame with area and perimeter, ``to_file`` GeoPackage.
Ours: ``geocrobim vectorize MASK -o OUT.gpkg`` (the CLI, styles included).

Each run is a fresh subprocess; wall time is measured around the process, peak memory by
sampling the proportional set size (PSS) of the process *and its children* every 10 ms, so
worker processes count and pages they share with their parent are not counted twice.
Runs alternate (baseline, ours, baseline, ...) and the best of ``--repeat`` is kept, which
damps noise from other work on the machine.

    python bench/vectorize.py [--size 10000] [--boxes 20000] [--repeat 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASELINE = r"""
import sys, rasterio, shapely.geometry, geopandas as gpd
from rasterio import features
src_path, out_path = sys.argv[1], sys.argv[2]
with rasterio.open(src_path) as src:
    arr = src.read(1)
    transform, crs = src.transform, src.crs
shapes = features.shapes(arr, mask=arr > 0, transform=transform)
geoms = [shapely.geometry.shape(geom) for geom, _ in shapes]
gdf = gpd.GeoDataFrame(geometry=geoms, crs=crs)
gdf["area_m2"] = gdf.area
gdf["perimeter_m"] = gdf.length
gdf.to_file(out_path, driver="GPKG", layer="polygons")
"""


def make_scene(path: Path, size: int = 10_000, boxes: int = 20_000, seed: int = 0) -> None:
    """Write the synthetic building mask as a tiled GeoTIFF."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    widths, heights = rng.integers(12, 48, boxes), rng.integers(12, 48, boxes)
    xs, ys = rng.integers(2, size - 52, boxes), rng.integers(0, size - 48, boxes)
    for x, y, w, h in zip(xs, ys, widths, heights):
        left = x + rng.integers(-2, 3, h)  # jagged edges: each row starts and ends a bit off
        right = x + w + rng.integers(-2, 3, h)
        for row, (x0, x1) in enumerate(zip(left, right)):
            mask[y + row, x0:x1] = 1
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint8",
        "crs": "EPSG:32633", "transform": from_origin(500_000, 5_000_000, 0.5, 0.5),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(mask, 1)


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (``/proc/PID/smaps_rollup``, cheap to read)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def measure(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``: wall seconds, CPU seconds (user + system, workers included) and peak PSS
    (MB) of its process tree, sampled every 10 ms."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = psutil.Process(proc.pid)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            pids = [proc.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            pids = [proc.pid]
        peak = max(peak, sum(pss_bytes(p) for p in pids))
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_mb": peak / 2**20}


def total_area(path: Path) -> tuple[int, float]:
    """(feature count, total area) of the polygon layer of a GeoPackage."""
    import pyogrio

    layer = next(name for name, geom in pyogrio.list_layers(path) if geom)
    polys = pyogrio.read_dataframe(path, layer=layer, columns=[]).geometry
    return len(polys), float(polys.area.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--boxes", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep the scene and outputs here")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="geocrobim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scene = work / "buildings.tif"
    if not scene.exists():
        make_scene(scene, args.size, args.boxes)
    geocrobim = [sys.executable, "-m", "geocrobim.cli.main", "-q", "vectorize"]
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "geocrobim": []}
    for _ in range(args.repeat):
        runs["baseline"].append(measure([sys.executable, "-c", BASELINE, str(scene), str(work / "baseline.gpkg")]))
        runs["geocrobim"].append(measure([*geocrobim, str(scene), "-o", str(work / "ours.gpkg"), "--overwrite"]))
        (work / "baseline.gpkg").unlink()
    runs["baseline"].append(measure([sys.executable, "-c", BASELINE, str(scene), str(work / "baseline.gpkg")]))

    best = {name: {k: min(r[k] for r in rs) for k in ("seconds", "cpu_seconds", "peak_mb")} for name, rs in runs.items()}
    base_n, base_area = total_area(work / "baseline.gpkg")
    ours_n, ours_area = total_area(work / "ours.gpkg")
    speedup = best["baseline"]["seconds"] / best["geocrobim"]["seconds"]
    memory = best["geocrobim"]["peak_mb"] / best["baseline"]["peak_mb"]
    area_diff = abs(ours_area - base_area) / base_area
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "scene": f"{args.size}x{args.size} uint8, {args.boxes} boxes",
        "runs": runs,
        "best": best,
        "features": {"baseline": base_n, "geocrobim": ours_n},
        "area_m2": {"baseline": base_area, "geocrobim": ours_area},
    }
    print(json.dumps(report, indent=1))
    ok = speedup >= 2 and memory <= 0.5 and area_diff <= 1e-3
    print(
        f"vectorize: {speedup:.2f}x faster ({best['baseline']['seconds']:.2f} s -> {best['geocrobim']['seconds']:.2f} s), "
        f"peak memory {memory:.2f}x ({best['baseline']['peak_mb']:.0f} MB -> {best['geocrobim']['peak_mb']:.0f} MB), "
        f"{ours_n} vs {base_n} polygons, area diff {area_diff:.2e} -> {'PASS' if ok else 'FAIL'} (target >= 2x, <= 0.5x, <= 1e-3)"
    )


if __name__ == "__main__":
    main()
