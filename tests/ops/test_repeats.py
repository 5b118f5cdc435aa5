"""RepeatedErrors: the first error of a kind with its traceback, then counts, rarely."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from jarvis.repeats import MAX_KINDS, RepeatedErrors


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wrapped(partition: str) -> RuntimeError:
    """An error that names its partition, caused by one they all share."""
    try:
        try:
            raise ConnectionError("Too many connections")
        except ConnectionError as cause:
            raise RuntimeError(f"partition {partition!r}: reading events failed") from cause
    except RuntimeError as exc:
        return exc


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    logger = logging.getLogger("jarvis.test.repeats")
    keep = _Keep()
    logger.addHandler(keep)
    yield keep.records
    logger.removeHandler(keep)


def test_identical_errors_log_once_then_one_count_line_per_period(
    records: list[logging.LogRecord],
) -> None:
    clock = _Clock()
    repeats = RepeatedErrors(logging.getLogger("jarvis.test.repeats"), every=30.0, clock=clock)
    written = [repeats.error(_wrapped(f"p{i}"), "partition %s: tick failed", f"p{i}")
               for i in range(500)]  # fmt: skip
    assert written == [True] + [False] * 499
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert records[0].getMessage() == "partition p0: tick failed"

    clock.now += 31.0
    assert repeats.error(_wrapped("p7"), "partition %s: tick failed", "p7")
    assert len(records) == 2
    assert records[1].exc_info is None
    assert "500 like it in the last 31 s, 501 in all" in records[1].getMessage()
    assert repeats.total() == 501


def test_errors_of_different_kinds_are_each_logged(records: list[logging.LogRecord]) -> None:
    repeats = RepeatedErrors(logging.getLogger("jarvis.test.repeats"), clock=_Clock())
    repeats.error(ValueError("a"), "step %s failed", "x")
    repeats.error(ValueError("b"), "step %s failed", "x")
    repeats.error(KeyError("a"), "step %s failed", "x")
    repeats.error(ValueError("a"), "other %s failed", "x")
    repeats.error(ValueError("a"), "step %s failed", "y")  # same kind as the first
    assert [r.getMessage() for r in records] == [
        "step x failed",
        "step x failed",
        "step x failed",
        "other x failed",
    ]


def test_the_kinds_remembered_are_bounded(records: list[logging.LogRecord]) -> None:
    repeats = RepeatedErrors(logging.getLogger("jarvis.test.repeats"), clock=_Clock())
    for i in range(MAX_KINDS + 10):
        repeats.error(ValueError(f"error {i}"), "step failed")
    assert len(records) == MAX_KINDS + 10
    assert len(repeats._runs) == MAX_KINDS


def test_an_expected_failure_is_logged_once_without_a_traceback(
    records: list[logging.LogRecord],
) -> None:
    repeats = RepeatedErrors(
        logging.getLogger("jarvis.test.repeats"), level=logging.WARNING, traceback=False
    )
    for _ in range(30):
        repeats.error(ConnectionError("Connection refused"), "%s: step failed", "traffic")
    assert len(records) == 1
    assert records[0].exc_info is None
    assert records[0].levelno == logging.WARNING
    assert records[0].getMessage() == "traffic: step failed: Connection refused"
