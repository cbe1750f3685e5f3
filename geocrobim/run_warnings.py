"""Warnings that belong to a run: logged as usual, and handed to the run that caused them.

A segment run reports its warnings in its result (``SegmentResult.warnings``, the
``--json`` summary, the batch ledger). Modules that can warn during a run call
:func:`warn` instead of ``logger.warning``; the run collects with :func:`collect`. The
list lives in a context variable, so no handler is added to any logger and two runs in
one process (threads, or one after the other) never see each other's warnings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[list[str] | None] = ContextVar("geocrobim_run_warnings", default=None)


def warn(logger: logging.Logger, message: str, *args: object) -> None:
    """``logger.warning(message, *args)``, and the formatted message into the current run's list.

    Within a run each message is logged once: a run may meet the same problem in several passes
    or windows, and the user needs to read it once.
    """
    collected = _current.get()
    text = message % args if args else message
    if collected is not None and text in collected:
        return
    logger.warning(message, *args)
    if collected is not None:
        collected.append(text)


@contextmanager
def collect() -> Iterator[list[str]]:
    """Collect the :func:`warn` messages of this context (this thread) into a list."""
    collected: list[str] = []
    token = _current.set(collected)
    try:
        yield collected
    finally:
        _current.reset(token)
