"""``geocrobim batch``: segment whole archives, resumably, on one machine, a job array or Ray."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from geocrobim.batch.executors import EXECUTORS
from geocrobim.batch.fingerprint import HASH_MODES
from geocrobim.cli._common import handle_errors, progress_bar, verbosity
from geocrobim.cli.flags import options_from_flags, segment_flags


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), required=True,
              help="Output folder: OUTDIR/<scene-id>/, the ledger, OUTDIR/merged/.")
@click.option("-e", "--expression", "expressions", multiple=True, help="Expression for every scene (repeatable).")
@click.option("--expressions-file", type=click.Path(path_type=Path),
              help="Text file with one expression per line (# comments and blank lines skipped).")
@click.option("--asset", help="STAC asset key [default: 'visual', else the first GeoTIFF asset].")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="local: this machine; ray: a Ray cluster.")
@click.option("--workers", type=int,
              help="Worker processes (local) or actors (ray) "
                   "[default: one per GPU; else 1 (local), one per CPU (ray)].")
@click.option("--address",
              help="Ray cluster address (auto, HOST:PORT, ray://HOST:PORT) [default: RAY_ADDRESS or a local Ray].")
@click.option("--shard", help="Process shard I/N only; N or auto take the index from SLURM, AWS Batch or Kubernetes.")
@click.option("--resume", is_flag=True, help="Skip scenes whose input, model and options match a completed record.")
@click.option("--overwrite", is_flag=True, help="Redo scenes that already have results.")
@click.option("--retries", type=int, default=2, show_default=True, help="Extra attempts for a scene whose worker died.")
@click.option("--hash", "hash_mode", type=click.Choice(HASH_MODES), default="quick", show_default=True,
              help="Input hash for --resume: quick (size + first/last MiB) or full (every byte).")
@click.option("--dst-crs", help="Reproject the merged products into this CRS [default: each scene's own CRS].")
@click.option("--no-merge", is_flag=True, help="Do not build the merged VRT and GeoPackage.")
@click.option("--merge-only", is_flag=True,
              help="Only build the merged products from finished results (after a job array).")
@click.option("--dry-run", is_flag=True, help="Print the items and what would run as JSON; process nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON summary on stdout.")
@segment_flags
@handle_errors
def batch(
    inputs: tuple[str, ...],
    output_dir: Path,
    expressions: tuple[str, ...],
    expressions_file: Path | None,
    asset: str | None,
    executor: str,
    workers: int | None,
    address: str | None,
    shard: str | None,
    resume: bool,
    overwrite: bool,
    retries: int,
    hash_mode: str,
    dst_crs: str | None,
    no_merge: bool,
    merge_only: bool,
    dry_run: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Segment every scene of INPUTS: folders, globs, rasters, manifests (.csv, .yaml, .jsonl) or STAC (.json).

    Writes OUTDIR/<scene-id>/ per scene (the `segment` outputs, all or nothing), a ledger
    (OUTDIR/ledger.jsonl, one record per attempt), and per expression merged products in
    OUTDIR/merged/: a mosaic per group of scenes with one CRS and pixel size
    (<slug>.epsg32633-0.5m.mask.vrt; none for scenes far apart) and the polygons of all scenes
    of a CRS with their scene_id (<slug>.epsg32633.gpkg). Exit code 1 if a scene failed; the
    others still complete.

    \b
    $ geocrobim batch archive/ -e "the large pond" -o out --workers 2
    $ geocrobim batch scenes.csv -o out --resume
    $ geocrobim batch catalog.json --asset visual -e "the stadium" -o out --executor ray --address auto
    $ geocrobim batch archive/ -e "the bridge" -o /shared/out --shard auto    # in a SLURM array
    """
    from geocrobim.batch import collect_items, merge_batch, plan_batch, run_batch

    texts = list(expressions)
    if expressions_file is not None:
        from geocrobim.inference.expressions import read_expressions_file  # torch-free (lazy package)

        texts += read_expressions_file(expressions_file)
    options = options_from_flags(flags)
    items = collect_items(inputs, texts, asset=asset, exclude=[output_dir])
    if dry_run:
        plan = plan_batch(items, output_dir, options=options, shard=shard, resume=resume, overwrite=overwrite)
        click.echo(json.dumps(plan.to_dict(), indent=2))
        return
    if merge_only:
        with progress_bar("merge", unit="file") as merge_progress:
            products = merge_batch(items, output_dir, options=options, dst_crs=dst_crs, progress=merge_progress)
        if as_json:
            click.echo(json.dumps([p.to_dict() for p in products], indent=2))
        elif not verbosity()[1]:
            for product in products:
                click.echo(product.line(), err=True)
        return
    with progress_bar("batch", unit="scene") as progress, progress_bar("merge", unit="file") as merge_progress:
        summary = run_batch(
            items, output_dir, options=options, executor=executor,
            workers=workers, address=address, shard=shard, resume=resume, overwrite=overwrite, retries=retries,
            hash_mode=hash_mode, dst_crs=dst_crs, merge=not no_merge, progress=progress,
            merge_progress=merge_progress,
        )
    if not verbosity()[1]:
        for line in summary.lines():
            click.echo(line, err=True)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    if summary.exit_code:
        sys.exit(summary.exit_code)

