"""``geocrobim calibrate``: fit a checkpoint's score calibration and its "not found" threshold."""

from __future__ import annotations

import json
from pathlib import Path

import click

from geocrobim.cli._common import handle_errors, progress_bar


@click.command("calibrate")
@click.argument("checkpoint")
@click.option("--scenes", type=click.IntRange(min=2), default=24, show_default=True,
              help="Held-out synthetic scenes (half fit, half measure; then all fit the stored map).")
@click.option("--size", type=click.IntRange(min=256), default=2048, show_default=True, help="Scene side in pixels (0.5 m).")
@click.option("--seed0", type=click.IntRange(min=0), default=9000, show_default=True,
              help="First scene seed (far from every training stream's).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Calibrated score under which the best instance is 'not found'.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--tta/--no-tta", default=None,
              help="Fit the map for reading with the flip ensemble, or with one pass [default: as the model's metadata "
              "says]; a map for the other reading is stored beside the default one, and segment picks the one it reads with.")
@click.option("--dry-run", is_flag=True, help="Measure and report; do not write metadata.json.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report (reliability tables included) on stdout.")
@handle_errors
def calibrate(
    checkpoint: str, scenes: int, size: int, seed0: int, threshold: float, device: str, tta: bool | None, dry_run: bool,
    as_json: bool,
) -> None:
    """Make CHECKPOINT's scores probabilities that an instance is the referent.

    Runs the engine on held-out synthetic scenes with expressions whose referent is there and
    ones whose referent is not, fits a logistic map from each component's fine and coarse
    means to whether it is the referent, and stores it with the threshold in CHECKPOINT's
    metadata.json. `segment` then reports calibrated scores and answers "not found" under
    the threshold. About 10 s a scene on two CPU cores.

    \b
    $ geocrobim calibrate runs/embedded_cpu/export --scenes 24
    """
    from geocrobim.training.calibration import calibrate_checkpoint

    with progress_bar("calibrate") as progress:
        report = calibrate_checkpoint(
            checkpoint, scenes=scenes, seed0=seed0, size=size, device=device, threshold=threshold,
            write=not dry_run, tta=tta, progress=progress,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    held, cal = report["held_out"], report["calibration"]
    click.echo(
        f"{cal['samples']} components ({cal['referents']} referents); held-out ECE {held['ece_raw']:.3f} raw -> "
        f"{held['ece']:.3f} calibrated (best instance per expression: {held['best_ece']:.3f}); "
        f"threshold {cal['threshold']:.2f}"
        + ("" if dry_run else f"; written to {Path(report['checkpoint']) / 'metadata.json'} as {report['key']}"),
        err=True,
    )
