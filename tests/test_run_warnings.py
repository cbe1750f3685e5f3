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


def test_a_run_logs_each_warning_once_and_the_next_run_again() -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]  # a list, whatever other tests did to propagation
    logger.addHandler(handler)
    try:
        for _ in range(2):
            with collect() as warned:
                for _ in range(3):  # e.g. a sentence checked by the coarse pass, the fine pass, each view
                    warn(logger, "expression %r: unknown word", "the zorblax")
                warn(logger, "expression %r: unknown word", "the blorp")
            assert warned == ["expression 'the zorblax': unknown word", "expression 'the blorp': unknown word"]
        warn(logger, "outside any run")
        warn(logger, "outside any run")  # no run to remember it: logged each time
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert messages.count("expression 'the zorblax': unknown word") == 2  # once per run
    assert messages.count("outside any run") == 2 and len(messages) == 6
