"""The click options of a segment run, built from :class:`~geocrobim.inference.options.SegmentOptions`.

``geocrobim segment`` and ``geocrobim batch`` both decorate themselves with
:func:`segment_flags` and turn the parsed values into one options object with
:func:`options_from_flags`; neither lists an engine flag of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from geocrobim.inference.options import SegmentOptions, flags

F = TypeVar("F", bound=Callable[..., Any])


def segment_flags(command: F) -> F:
    """Add every option of :class:`SegmentOptions` that has a flag, in the order of its fields."""
    for name, flag, default in reversed(flags()):
        kwargs: dict[str, Any] = {"help": flag.help}
        if flag.choices is not None:
            kwargs.update(type=click.Choice(flag.choices, case_sensitive=False), default=default, show_default=True)
        elif flag.kind is bool:
            kwargs.update(default=default, is_flag=True, show_default="/" in flag.decls[0])
        elif default is not None:
            kwargs.update(type=flag.kind, default=default, show_default=True)
        else:
            kwargs.update(type=flag.kind)
        command = click.option(*flag.decls, name, **kwargs)(command)
    return command


def options_from_flags(values: dict[str, Any]) -> SegmentOptions:
    """Take the option flags out of a command's keyword arguments (``values`` loses them).

    Raises:
        UsageError: a flag's text or value is invalid (one line naming it).
    """
    kwargs: dict[str, Any] = {}
    for name, flag, _ in flags():
        value = values.pop(name)
        kwargs[name] = flag.parse(value) if flag.parse is not None and value is not None else value
    return SegmentOptions(**kwargs)
