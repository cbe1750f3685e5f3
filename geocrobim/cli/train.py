"""``geocrobim train``: fit CroBIM from a YAML config (LightningCLI underneath)."""

from __future__ import annotations

import click

from geocrobim.cli._common import handle_errors


@click.command(
    "train",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["-h", "--help"]},
)
@click.option(
    "--config",
    "configs",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Training YAML (configs/*.yaml); repeat to layer several, later ones win.",
)
@click.option("--test", is_flag=True, help="After fitting, score the test split with the selected weights.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run from its last.ckpt (the config's ModelCheckpoint folder).",
)
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@handle_errors
def train(configs: tuple[str, ...], test: bool, resume: bool, overrides: tuple[str, ...]) -> None:
    """Train a model from a config, with optional overrides.

    Overrides are LightningCLI options (--model.init_args.lr=1e-4) or the short form
    section.key=value (trainer.max_epochs=2). The config's ExportCheckpoint callback
    writes a geocrobim checkpoint directory at the end.

    \b
    $ geocrobim train --config configs/synthetic_small.yaml
    $ geocrobim train --config configs/risbench.yaml data.init_args.root=/data/RISBench_dataset \\
        trainer.devices=4 --test
    $ geocrobim train --config configs/embedded_cpu.yaml --resume
    """
    from geocrobim.training.fit import main

    args: list[str] = []
    for config in configs:
        args += ["--config", config]
    main([*args, *overrides], test=test, resume=resume)
