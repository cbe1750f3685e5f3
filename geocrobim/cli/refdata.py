"""``geocrobim refdata``: referring training data from a raster and the user's own vector layers."""

from __future__ import annotations

import json
from pathlib import Path

import click

from geocrobim.cli._common import handle_errors, progress_bar


@click.command("refdata")
@click.argument("scene", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("layers", nargs=-1, required=True)
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder (RISBench layout).")
@click.option("--category-field", default=None, help="Attribute holding each feature's category (default: the layer's name).")
@click.option("--attribute", "attributes", multiple=True, metavar="NAME=FIELD",
              help="Grammar word from a field: colour=roof_colour, size=size_class, form=shape. Repeatable.")  # fmt: skip
@click.option("--target", "targets", multiple=True, help="Only features of this category are targets (repeatable; default: all polygons).")
@click.option("--holdout", type=float, default=0.3, show_default=True, help="Fraction of the scene held out (split val) as a strip.")
@click.option("--holdout-side", type=click.Choice(["east", "west", "north", "south"]), default="east", show_default=True)
@click.option("--holdout-polygon", type=click.Path(exists=True, path_type=Path), default=None,
              help="Hold out this polygon's area instead of a strip (any vector format).")  # fmt: skip
@click.option("--gsd", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Metres per chip pixel [default: the checkpoint's reading GSD].")  # fmt: skip
@click.option("--size", type=click.IntRange(min=32), default=None, help="Chip side in pixels [default: the checkpoint's input size].")
@click.option("--checkpoint", default="default", show_default=True, help="Checkpoint whose GSD and size are the defaults.")
@click.option("--bands", help="Bands used as R,G,B (1-based), or one band, as for segment [default: RGB colour interpretation, else 1,2,3].")
@click.option("--range", "value_range", help="LOW,HIGH data values mapped to 0-255, as for segment [default: 2-98 % scene percentiles].")
@click.option("--overlap", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True, help="Share of a chip its neighbour repeats.")
@click.option("--per-chip", type=click.IntRange(min=1), default=4, show_default=True, help="Expressions (targets) per chip at most.")
@click.option("--min-pixels", type=click.FloatRange(min=1), default=24.0, show_default=True, help="Smallest target, in chip pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same expressions.")
@click.option("--make-valid", is_flag=True, help="Repair invalid geometries instead of refusing them.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON on stdout.")
@handle_errors
def refdata(
    scene: Path, layers: tuple[str, ...], out: Path, category_field: str | None, attributes: tuple[str, ...],
    targets: tuple[str, ...], holdout: float, holdout_side: str, holdout_polygon: Path | None, gsd: float | None,
    size: int | None, checkpoint: str, bands: str | None, value_range: str | None, overlap: float, per_chip: int, min_pixels: float, seed: int, make_valid: bool,
    overwrite: bool, as_json: bool,
) -> None:  # fmt: skip
    """Write referring chips of SCENE described from LAYER features to OUT.

    Each LAYER is PATH, PATH:LAYERNAME (a multi-layer GeoPackage) and may end in
    =CATEGORY ("roads.shp=road"); otherwise the category is --category-field or the
    layer's name ("buildings" -> "building"). A layer of category "river" gives
    "north of the river". Chips are read at the model's GSD; the held-out part is
    written as split "val" for `geocrobim evaluate --split val`.

    \b
    $ geocrobim refdata ortho.tif buildings.gpkg roads.gpkg=road rivers.gpkg=river -o refdata \\
        --attribute colour=roof_colour --holdout 0.3
    $ geocrobim refdata scene.tif parcels.shp --category-field landuse --holdout-polygon test_area.gpkg -o refdata
    """
    from geocrobim.data.refdata import make_refdata, parse_attributes
    from geocrobim.inference.options import parse_bands, parse_range

    with progress_bar("refdata", unit="chip") as progress:
        summary = make_refdata(
            scene, list(layers), out, gsd=gsd, size=size, checkpoint=checkpoint, bands=parse_bands(bands) if bands else None,
            value_range=parse_range(value_range) if value_range else None, category_field=category_field,
            attributes=parse_attributes(attributes), target_categories=targets or None, holdout=holdout,
            holdout_side=holdout_side, holdout_polygon=holdout_polygon, overlap=overlap, per_chip=per_chip,
            min_pixels=min_pixels, seed=seed, make_valid=make_valid, overwrite=overwrite, progress=progress,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
    else:
        p, c = summary.pairs, summary.chips
        click.echo(f"{out}: {p['train']} training pairs from {c['train']} chips, {p['val']} held-out pairs "
                   f"(split val) from {c['val']} chips, {summary.size} px at {summary.gsd:g} m")  # fmt: skip
