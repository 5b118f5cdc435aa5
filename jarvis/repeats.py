"""Repeated errors logged once with a count, not once per occurrence with a traceback.

A member with thousands of partitions meets the same error thousands of times a second
when something they all share breaks (Redis unreachable, a pool exhausted). Logging each
one with its traceback turns an outage into a logging storm: every thread queues on the
log handler's lock and the member stops doing anything else (issue 14). A
:class:`RepeatedErrors` logs the first error of a kind with its traceback, counts the
next ones silently, and logs one line with the count at most once per ``every`` seconds
while they go on. Errors are of the same kind when the message template, the exception
type and the text of its root cause are the same, whatever the message's arguments (so
one failing Redis is one kind across every partition).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RepeatedErrors"]

#: Kinds remembered at most (the oldest is forgotten first).
MAX_KINDS = 256


@dataclass
class _Run:
    count: int  # occurrences not logged yet
    total: int
    last_logged: float


def _kind(exc: BaseException, msg: str, args: tuple[object, ...]) -> tuple[str, str, str]:
    """What makes two errors the same: the message template, the exception's type, and
    the text of its root cause with the message's arguments left out (a wrapped error
    often names its partition; the cause is what they share)."""
    root = exc
    while root.__cause__ is not None and root.__cause__ is not root:
        root = root.__cause__
    text = str(root)[:500]
    for arg in args:
        if isinstance(arg, str) and arg:
            text = text.replace(arg, "*")
    return msg, f"{type(exc).__qualname__}/{type(root).__qualname__}", text


class RepeatedErrors:
    """Logs each kind of error once, then a count at most once per ``every`` seconds.

    ``logger`` may be a :class:`logging.Logger` or an adapter; ``clock`` is monotonic;
    ``traceback=False`` logs the first of a kind with its message only (for failures
    that are expected, such as a Redis node down during a failover).
    Thread-safe: one instance may be shared by every partition actor of a member.
    """

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        every: float = 30.0,
        *,
        level: int = logging.ERROR,
        traceback: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._traceback = traceback
        self._every = every
        self._level = level
        self._clock = clock
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, str, str], _Run] = {}  # kind -> its run

    def error(
        self,
        exc: BaseException,
        msg: str,
        *args: object,
        extra: Mapping[str, object] | None = None,
    ) -> bool:
        """Count ``exc`` (met while doing what ``msg % args`` says); log it if due.

        The first of its kind is logged with its traceback; later ones only as a count,
        at most once per ``every`` seconds. True when a line was written.
        """
        key = _kind(exc, msg, args)
        now = self._clock()
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                if len(self._runs) >= MAX_KINDS:
                    del self._runs[next(iter(self._runs))]
                self._runs[key] = _Run(0, 1, now)
            else:
                run.count += 1
                run.total += 1
                elapsed = now - run.last_logged
                if elapsed < self._every:
                    return False
                count, total = run.count, run.total
                run.count = 0
                run.last_logged = now
        if run is None and self._traceback:
            self._log.log(self._level, msg, *args, exc_info=exc, extra=extra)
        elif run is None:  # an expected kind of failure: its message is enough
            self._log.log(self._level, msg + ": %s", *args, exc, extra=extra)
        else:
            self._log.log(
                self._level,
                msg + ": %r (%d like it in the last %.0f s, %d in all)",
                *args,
                exc,
                count,
                elapsed,
                total,
                extra=extra,
            )
        return True

    def total(self) -> int:
        """Errors counted so far, of every kind still remembered."""
        with self._lock:
            return sum(run.total for run in self._runs.values())
