"""``geocrobim vectorize``: any binary or probability raster to styled polygons."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from geocrobim.choices import VECTOR_FORMATS
from geocrobim.cli._common import handle_errors, progress_bar


@click.command()
@click.argument("mask", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output file [default: MASK_STEM.polygons.gpkg beside MASK].")
@click.option("--format", "vector_format", type=click.Choice(VECTOR_FORMATS, case_sensitive=False), help="Vector format [default: from -o's extension, else gpkg].")
@click.option("--band", type=int, default=1, show_default=True, help="Band to polygonise (1-based).")
@click.option("--threshold", type=float, help="Foreground is value >= THRESHOLD (e.g. 128 or 0.5 for probabilities) [default: value > 0].")
@click.option("--simplify", type=float, default=0.0, show_default=True, help="Topology-preserving simplification tolerance, in map units.")
@click.option("--min-area", type=float, default=0.0, show_default=True, help="Drop polygons smaller than this, in m2.")
@click.option("--fill-holes", type=float, default=0.0, show_default=True, help="Fill holes smaller than this, in m2.")
@click.option("--layer", help="Layer name (GeoPackage, GeoJSON) [default: the file's stem].")
@click.option("--no-style", is_flag=True, help="Do not write the QGIS style (.qml sidecar, GeoPackage layer_styles).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@handle_errors
def vectorize(
    mask: Path,
    output: Path | None,
    vector_format: str | None,
    band: int,
    threshold: float | None,
    simplify: float,
    min_area: float,
    fill_holes: float,
    layer: str | None,
    no_style: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Polygonise MASK: one polygon per connected foreground component.

    Works on any single-band raster: binary masks (foreground = value > 0) and probability
    rasters (--threshold). Polygons keep the raster's CRS (GeoJSON is reprojected to WGS84,
    as RFC 7946 requires) and carry area_m2 and perimeter_m.

    \b
    $ geocrobim vectorize scene.mask.tif
    $ geocrobim vectorize prob.tif --threshold 128 --min-area 20 --simplify 0.5 -o objects.fgb
    """
    from geocrobim.vector import check_output, polygonize, resolve_format, write_vector, written_crs

    start = time.perf_counter()
    if output is None:  # not MASK.gpkg: its .qml sidecar would clash with the raster's
        output = mask.with_name(f"{mask.stem}.polygons.{(vector_format or 'gpkg').lower()}")
    fmt, output = resolve_format(output, vector_format.lower() if vector_format else None)
    check_output(output, overwrite)  # fail before the (possibly long) polygonising
    with progress_bar("polygonise", unit="block") as progress:
        table = polygonize(
            mask, band=band, threshold=threshold, simplify=simplify, min_area=min_area,
            fill_holes_below=fill_holes, progress=progress, as_table=True,
        )
    path = write_vector(table, output, format=fmt.name, layer=layer, style=not no_style, overwrite=overwrite)
    seconds = time.perf_counter() - start
    crs = written_crs(table.crs, fmt.name)  # the file's, not the mask's: GeoJSON is WGS84
    summary = {
        "input": str(mask),
        "output": str(path),
        "format": fmt.name,
        "crs": crs.to_string() if crs is not None else None,
        "features": len(table),
        "area_m2": round(float(table.columns["area_m2"].sum()), 3),
        "seconds": round(seconds, 3),
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"{len(table)} polygons -> {path} ({seconds:.1f} s)", err=True)
