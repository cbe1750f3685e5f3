"""The ``geocrobim`` command group.

Subcommands live in their own modules and are imported only when invoked, so
``geocrobim --help`` and ``geocrobim vectorize`` never import torch.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from geocrobim import __version__
from geocrobim.cli._common import configure_logging
from geocrobim.process_settings import passive_omp_wait

#: command name -> "module:attribute"; one line per command.
COMMANDS: dict[str, str] = {
    "segment": "geocrobim.cli.segment:segment",
    "models": "geocrobim.cli.models:models",
    "vectorize": "geocrobim.cli.vectorize:vectorize",
    "synth": "geocrobim.cli.synth:synth",
    "train": "geocrobim.cli.train:train",
    "evaluate": "geocrobim.cli.evaluate:evaluate",
    "calibrate": "geocrobim.cli.calibrate:calibrate",
    "refdata": "geocrobim.cli.refdata:refdata",
    "batch": "geocrobim.cli.batch:batch",
    "qgis-plugin": "geocrobim.cli.qgis_plugin:qgis_plugin",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not _available(cmd_name):
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


def _available(name: str) -> bool:
    """True if the command's module exists (found without importing it)."""
    module_name = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="geocrobim")
@click.option("-v", "--verbose", count=True, help="More logging; -v also shows tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress bar.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Find, in a georeferenced raster, the one object a sentence refers to."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet
    configure_logging(verbose, quiet)
    # Before any command imports torch: idle OpenMP threads sleep instead of taking the
    # cores of the working ones (a user's own OMP_WAIT_POLICY wins).
    passive_omp_wait()


def main() -> None:
    """Console-script entry point."""
    cli(obj={})


if __name__ == "__main__":  # pragma: no cover
    main()
