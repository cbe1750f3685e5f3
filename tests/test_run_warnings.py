"""A run's warnings: collected per context, no handler on any logger, logged as usual."""

from __future__ import annotations

import logging
import threading

import pytest

from geocrobim.run_warnings import collect, warn

logger = logging.getLogger("geocrobim.tests.run_warnings")


def test_each_run_gets_only_its_own_warnings(caplog: pytest.LogCaptureFixture) -> None:
    handlers = list(logging.getLogger("geocrobim").handlers)
    results: dict[str, list[str]] = {}
    inside = threading.Barrier(2)

    def run(name: str) -> None:
        with collect() as warned:
            warn(logger, "%s: first", name)
            inside.wait()  # both runs are collecting at the same time
            warn(logger, "%s: second", name)
            assert logging.getLogger("geocrobim").handlers == handlers
        results[name] = warned

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    with caplog.at_level(logging.WARNING, logger="geocrobim"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        warn(logger, "outside any run")  # logged, collected by no one
    assert results == {"a": ["a: first", "a: second"], "b": ["b: first", "b: second"]}
    assert sum("first" in r.getMessage() for r in caplog.records) == 2 and "outside any run" in caplog.text
