"""``geocrobim synth``: generate synthetic referring data (chips for training, scenes for the engine)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from geocrobim.cli._common import handle_errors, progress_bar


def _gsds(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, ...]:
    try:
        gsds = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of metres, e.g. 0.3,0.5,1,2") from None
    if not gsds or any(g <= 0 for g in gsds):
        raise click.BadParameter(f"{value!r}: GSDs must be positive metres, e.g. 0.3,0.5,1,2")
    return gsds


@click.group()
def synth() -> None:
    """Generate synthetic referring-segmentation data."""


@synth.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--n", "n", type=click.IntRange(min=1), default=1000, show_default=True, help="Triplets (lines) to write.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="train", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; same seed, same bytes.")
@click.option("--size", type=click.IntRange(min=32), default=512, show_default=True, help="Chip side in pixels.")
@click.option("--gsd", "gsds", default="0.3,0.5,1,2", show_default=True, callback=_gsds, help="GSDs in metres, comma-separated.")
@click.option("--per-scene", type=click.IntRange(min=1), default=1, show_default=True, help="Expressions per rendered scene.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Rendering processes.")
@handle_errors
def chips(out: Path, n: int, split: str, seed: int, size: int, gsds: tuple[float, ...], per_scene: int, workers: int) -> None:
    """Write N chips in RISBench's layout (img_rgb/, mask/, output_phrase_SPLIT.txt) to OUT.

    \b
    $ geocrobim synth chips data/synth --n 20000 --split train --seed 0 --workers 8
    $ geocrobim synth chips data/synth --n 2000 --split val --seed 1
    """
    from geocrobim.data.synthetic.chips import write_chips

    with progress_bar("chips", unit="chip") as progress:
        phrase = write_chips(out, n, split=split, seed=seed, size=size, gsds=gsds, per_scene=per_scene,
                             workers=workers, progress=progress)  # fmt: skip
    click.echo(str(phrase))


@synth.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--size", type=click.IntRange(min=64), default=2048, show_default=True, help="Width and height in pixels.")
@click.option("--gsd", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True, help="Pixel size in metres.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--expressions", type=click.IntRange(min=1), default=5, show_default=True, help="Expressions (targets) to generate.")
@click.option("--preset", type=click.Choice(["sample"]), default=None, help="sample: the README scene (red-roofed warehouse north of a river).")
@click.option("--crs", default="EPSG:32633", show_default=True, help="Projected CRS of the output.")
@click.option("--compress", type=click.Choice(["deflate", "jpeg"]), default="deflate", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--json", "as_json", is_flag=True, help="Print the scene index as JSON on stdout.")
@handle_errors
def scene(
    out: Path, size: int, gsd: float, seed: int, expressions: int, preset: str | None, crs: str, compress: str,
    overwrite: bool, as_json: bool,
) -> None:  # fmt: skip
    """Write a georeferenced scene OUT.tif, masks OUT_gt/NNN.tif and the index OUT.json.

    \b
    $ geocrobim synth scene scene.tif --size 2048 --gsd 0.5 --seed 3 --expressions 5
    $ geocrobim synth scene sample_data/scene.tif --preset sample --compress jpeg --overwrite
    """
    from geocrobim.data.synthetic.scene_files import write_scene

    with progress_bar("scene") as progress:
        index = write_scene(out, size=size, gsd=gsd, seed=seed, expressions=expressions, preset=preset, crs=crs,
                            compress=compress, overwrite=overwrite, progress=progress)  # fmt: skip
    if as_json:
        click.echo(json.dumps(index))
    else:
        for entry in index["expressions"]:
            click.echo(f"{entry['mask']}\t{entry['text']}")
