"""``geocrobim segment``: the object a sentence names, as a mask COG, polygons and a quicklook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from geocrobim.cli._common import handle_errors, progress_bar, verbosity
from geocrobim.cli.flags import options_from_flags, segment_flags


@click.command()
@click.argument("scene", type=click.Path(path_type=Path))
@click.argument("expressions", nargs=-1)
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder for the outputs (created if missing).")
@click.option("--expressions-file", type=click.Path(path_type=Path),
              help="Text file with one expression per line (# comments and blank lines skipped).")
@segment_flags
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON summary on stdout.")
@handle_errors
def segment(
    scene: Path,
    expressions: tuple[str, ...],
    output_dir: Path,
    expressions_file: Path | None,
    overwrite: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Segment in SCENE the object each EXPRESSION refers to.

    Writes, per expression, into -o DIR: SCENE.SLUG.mask.tif (uint8 0/1 COG, nodata 255),
    SCENE.SLUG.gpkg (one polygon per instance with score and area), QGIS styles (.qml),
    SCENE.SLUG.quicklook.png, and with --probabilities SCENE.SLUG.prob.tif. Outputs are
    on SCENE's own grid and CRS.

    SCENE is one raster. Bands in separate files (e.g. Landsat's B4, B3, B2) are stacked
    into one first, and an EXPRESSION that looks like a raster file is refused:

    \b
    $ gdalbuildvrt -separate stack.vrt b4.tif b3.tif b2.tif
    $ geocrobim segment stack.vrt "the large lake" --range 0,3000

    \b
    $ geocrobim segment scene.tif "the red-roofed warehouse north of the river"
    $ geocrobim segment scene.tif "the large pond" "the stadium" -o out --json
    """
    from geocrobim.inference import segment_raster
    from geocrobim.inference.expressions import read_expressions_file, refuse_raster_paths

    refuse_raster_paths(scene, expressions)
    texts = list(expressions)
    if expressions_file is not None:
        texts += read_expressions_file(expressions_file)
    options = options_from_flags(flags)
    with progress_bar("segment") as progress:
        result = segment_raster(scene, texts, options, output_dir=output_dir, overwrite=overwrite, progress=progress)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    _, quiet = verbosity()
    if quiet:
        return
    for item in result.expressions:
        if item.found:
            score = f"found, {item.instances} instance(s), best score {item.score:.3f}, {item.area:.1f} {item.area_unit}"
            click.echo(f"{item.expression!r}: {score} -> {item.outputs.vector}", err=True)
        else:
            click.echo(f"{item.expression!r}: {item.note or 'not found: empty mask, empty layer'}", err=True)
