"""Helpers shared by the CLI commands: logging, error reporting, progress bars."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from geocrobim.errors import GeoCrobimError, one_line

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("geocrobim")


class _StderrHandler(logging.StreamHandler[Any]):
    """A stream handler bound to whatever ``sys.stderr`` is when a record is emitted.

    ``logging.StreamHandler(sys.stderr)`` keeps the stream of its first invocation; click's
    CliRunner (and anything else that swaps ``sys.stderr``) would then lose the messages.
    """

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns it; always follow sys.stderr
        pass


def configure_logging(verbose: int, quiet: bool) -> None:
    """Send geocrobim's log records to stderr at a level set by -v/-q."""
    level = logging.ERROR if quiet else logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING
    root = logging.getLogger("geocrobim")
    # A run's warnings reach its --json summary through geocrobim.run_warnings, whatever
    # the level: -q can silence the logger itself.
    root.setLevel(level)
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:  # once per process: the CLI may be invoked several times (tests)
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("geocrobim: %(levelname)s: %(message)s"))
        root.addHandler(handler)
    handler.setLevel(level)
    root.propagate = False


def verbosity() -> tuple[int, bool]:
    """(verbose count, quiet flag) of the current invocation."""
    ctx = click.get_current_context(silent=True)
    obj = (ctx.find_root().obj if ctx else None) or {}
    return int(obj.get("verbose", 0)), bool(obj.get("quiet", False))


def handle_errors(func: F) -> F:
    """Turn geocrobim errors into one line on stderr and the error's exit code.

    Unexpected exceptions also become one line (exit 1); ``-v`` re-raises so the
    traceback shows.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose, _ = verbosity()
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except GeoCrobimError as exc:
            if verbose:
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            if verbose:
                raise
            click.echo(f"Error: {one_line(exc)} (run with -v for the traceback)", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps func's signature, so wrapper is an F


@contextmanager
def progress_bar(desc: str, unit: str = "window") -> Iterator[Callable[[int, int], None]]:
    """A progress callback ``(done, total)`` that drives a tqdm bar on stderr.

    Silent with ``-q`` or when stderr is not a terminal and nothing asked for it.
    """
    from tqdm import tqdm

    _, quiet = verbosity()
    bar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
