"""``geocrobim evaluate``: the paper's metrics for a checkpoint on a test set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import click

from geocrobim.choices import INSTANCE_CHOICES
from geocrobim.cli._common import handle_errors, progress_bar
from geocrobim.errors import OutputError, UsageError

DATASETS = ("risbench", "rrsisd", "refsegrs", "synthetic")


@click.command("evaluate")
@click.option("--checkpoint", default="default", show_default=True, help="Checkpoint directory or 'default'.")
@click.option("--dataset", type=click.Choice(DATASETS), required=True, help="Dataset layout under --root.")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Dataset folder (synthetic without --root generates held-out chips on the fly).",
)
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option(
    "--image-size", type=click.IntRange(min=32), default=480, show_default=True,
    help="Compare masks at this side (480: the published protocol).",
)  # fmt: skip
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="DataLoader workers.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Score only the first N pairs.")
@click.option("--samples", type=click.IntRange(min=1), default=None, help="Synthetic without --root: number of chips.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout instead of the table.")
@click.option(
    "--json-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write the result as JSON to this file (e.g. before.json, to compare runs).",
)  # fmt: skip
@click.option("--record", is_flag=True, help="Also store the metrics in the checkpoint's metadata.json.")
@click.option("--tta", is_flag=True, help="Score the flip ensemble (segment --tta): the chip and its mirrors, sentences rewritten.")
@click.option(
    "--instances", type=click.Choice(INSTANCE_CHOICES), default="all", show_default=True,
    help="all: score the whole thresholded mask (the papers' protocol); best: only its likeliest component, as segment keeps it.",
)  # fmt: skip
@click.option(
    "--scene-words", is_flag=True,
    help="Read ranks and parts of the image as segment does: ask 'every ship', then pick the component by the engine's rule.",
)  # fmt: skip
@handle_errors
def evaluate(
    checkpoint: str,
    dataset: str,
    root: Path | None,
    split: str,
    image_size: int,
    batch_size: int,
    device: str,
    precision: str,
    workers: int,
    limit: int | None,
    samples: int | None,
    as_json: bool,
    json_out: Path | None,
    record: bool,
    tta: bool,
    instances: str,
    scene_words: bool,
) -> None:
    """Score a checkpoint: Precision@0.5-0.9, oIoU and mIoU (in percent, as the papers).

    \b
    $ geocrobim evaluate --checkpoint runs/risbench/export --dataset risbench \\
        --root /data/RISBench_dataset --split test --json-out risbench_test.json
    $ geocrobim evaluate --dataset synthetic --split test --json   # the default model
    """
    from geocrobim.choices import Instances
    from geocrobim.training.evaluation import Split, evaluate_checkpoint, format_table, record_metrics

    if samples is not None and (dataset != "synthetic" or root is not None):
        raise UsageError("--samples applies to --dataset synthetic without --root; use --limit to cut a folder")
    if json_out is not None:  # before the (long) evaluation, not after it
        from geocrobim.raster import check_output_dir

        check_output_dir(json_out.parent)
    options = {"length": samples} if samples is not None else {}
    with progress_bar("evaluate", unit="pair") as progress:
        result = evaluate_checkpoint(
            checkpoint, dataset, root, cast(Split, split), image_size=image_size, batch_size=batch_size, device=device,
            precision=precision, num_workers=workers, limit=limit, dataset_options=options, tta=tta,
            instances=cast(Instances, instances), scene_words=scene_words, progress=progress,
        )  # fmt: skip
    text = json.dumps(result, indent=2)
    if json_out is not None:
        write_json(json_out, text)
    click.echo(text if as_json else format_table(result))
    if record:
        record_metrics(result)


def write_json(path: Path, text: str) -> None:
    """Write the JSON result, or raise OutputError naming the path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc.strerror}); choose a writable --json-out path") from exc
