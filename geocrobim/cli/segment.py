"""``geocrobim segment``: the object a sentence names, as a mask COG, polygons and a quicklook."""

from __future__ import annotations

import json
from pathlib import Path

import click

from geocrobim.cli._common import handle_errors, progress_bar, verbosity
from geocrobim.errors import UsageError

_FORMATS = ("gpkg", "geojson", "shp", "fgb", "parquet")


def parse_bands(text: str | None) -> tuple[int, ...] | None:
    """``"4,3,2"`` -> ``(4, 3, 2)``; one line naming the bad value otherwise."""
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--bands {text!r} must be 1 or 3 comma-separated band numbers, e.g. 1,2,3 or 4,3,2") from None


def parse_range(text: str | None) -> tuple[float, float] | None:
    """``"0,3000"`` -> ``(0.0, 3000.0)``."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"--range {text!r} must be LOW,HIGH data values, e.g. 0,3000") from None
    return (low, high)


@click.command()
@click.argument("scene", type=click.Path(path_type=Path))
@click.argument("expressions", nargs=-1)
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder for the outputs (created if missing).")
@click.option("--expressions-file", type=click.Path(path_type=Path),
              help="Text file with one expression per line (# comments and blank lines skipped).")
@click.option("--checkpoint", default="default", show_default=True, help="Checkpoint directory or name.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--bands", help="Bands used as R,G,B (1-based), or one band [default: RGB colour interpretation, else 1,2,3].")
@click.option("--gsd", type=float, help="Reading GSD in metres [default: the model's, where the scene is finer].")
@click.option("--range", "value_range", help="LOW,HIGH data values mapped to 0-255 [default: 2-98 % scene percentiles].")
@click.option("--tile-size", type=int, help="Window side in pixels at the reading GSD [default: the model's input size].")
@click.option("--overlap", type=int, help="Window overlap in pixels [default: a quarter tile].")
@click.option("--batch-size", type=int, help="Windows per model call [default: 8].")
@click.option("--instances", type=click.Choice(["best", "all"]), default="best", show_default=True,
              help="Keep the best-scoring instance, or every one above the threshold.")
@click.option("--no-coarse", is_flag=True, help="Skip the whole-scene coarse pass: run every window.")
@click.option("--probabilities", is_flag=True, help="Also write the blended probabilities (uint8 0-255 COG).")
@click.option("--format", "vector_format", type=click.Choice(_FORMATS, case_sensitive=False), default="gpkg",
              show_default=True, help="Vector format.")
@click.option("--simplify", type=float, default=0.0, show_default=True, help="Polygon simplification tolerance, in map units.")
@click.option("--min-area", type=float, default=0.0, show_default=True, help="Drop instances smaller than this, in m2.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON summary on stdout.")
@handle_errors
def segment(
    scene: Path,
    expressions: tuple[str, ...],
    output_dir: Path,
    expressions_file: Path | None,
    checkpoint: str,
    device: str,
    bands: str | None,
    gsd: float | None,
    value_range: str | None,
    tile_size: int | None,
    overlap: int | None,
    batch_size: int | None,
    instances: str,
    no_coarse: bool,
    probabilities: bool,
    vector_format: str,
    simplify: float,
    min_area: float,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Segment in SCENE the object each EXPRESSION refers to.

    Writes, per expression, into -o DIR: SCENE.SLUG.mask.tif (uint8 0/1 COG, nodata 255),
    SCENE.SLUG.gpkg (one polygon per instance with score and area), QGIS styles (.qml),
    SCENE.SLUG.quicklook.png, and with --probabilities SCENE.SLUG.prob.tif. Outputs are
    on SCENE's own grid and CRS.

    \b
    $ geocrobim segment scene.tif "the red-roofed warehouse north of the river"
    $ geocrobim segment scene.tif "the large pond" "the stadium" -o out --json
    """
    from geocrobim.inference import segment_raster
    from geocrobim.inference.expressions import read_expressions_file

    texts = list(expressions)
    if expressions_file is not None:
        texts += read_expressions_file(expressions_file)
    options = {"batch_size": batch_size} if batch_size is not None else {}
    with progress_bar("segment") as progress:
        result = segment_raster(
            scene, texts, output_dir=output_dir, checkpoint=checkpoint, device=device, bands=parse_bands(bands),
            gsd=gsd, tile_size=tile_size, overlap=overlap, instances=instances, coarse=not no_coarse,
            probabilities=probabilities, vector_format=vector_format.lower(), simplify=simplify, min_area=min_area,
            value_range=parse_range(value_range), overwrite=overwrite, progress=progress, **options,
        )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    _, quiet = verbosity()
    if quiet:
        return
    for item in result.expressions:
        score = "no instance" if item.score is None else f"{item.instances} instance(s), best score {item.score:.3f}"
        click.echo(f"{item.expression!r}: {score}, {item.area_m2:.1f} m2 -> {item.outputs.vector}", err=True)
        if item.note:
            click.echo(f"  {item.note}", err=True)
