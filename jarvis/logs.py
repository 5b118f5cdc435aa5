"""Log lines of a Jarvis process: text or JSON, with the context they concern.

Only the CLI configures handlers (:func:`configure_logging`); modules just use
``log = logging.getLogger(__name__)``. A record may carry context in ``extra``:

``member``
    the member id; added to every line of a member process (it concerns the member);
``partition``, ``epoch``, ``kind``
    on lines about one partition (the partition actor's ``LoggerAdapter``, the member's
    holdings);
``tick``
    on lines written during or about one tick.

Text lines end with the context in brackets (``[partition=oslo epoch=17 tick=42]``);
JSON lines are one object each: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``,
the context fields that are set, and ``exc`` with the traceback if any.

Levels: DEBUG, per-tick detail; INFO, ownership changes, starts and stops; WARNING, a
partition lost, a drain that ran out of time, a retried failure; ERROR, a failure that
needs an operator (a tick that raised, a listener that failed).

Secrets are never passed to a log call. As a second line of defence every formatted line
has URL passwords (``scheme://user:secret@``) and the values given as ``secrets``
replaced with ``***``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any, Literal, TextIO

__all__ = ["CONTEXT", "ContextFilter", "JsonFormatter", "TextFormatter", "configure_logging"]

#: The context fields, in the order they are shown.
CONTEXT = ("member", "partition", "kind", "epoch", "tick")

LogFormat = Literal["text", "json"]

_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
_MASK = "***"


class _Scrubber:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _URL_PASSWORD.sub(rf"\1{_MASK}@", text)
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text


def _context(record: logging.LogRecord) -> dict[str, Any]:
    values = {}
    for name in CONTEXT:
        value = getattr(record, name, None)
        if value is not None:
            values[name] = value
    return values


class ContextFilter(logging.Filter):
    """Adds the process's member id to every record that does not carry one."""

    def __init__(self, member: str | None = None) -> None:
        super().__init__()
        self.member = member

    def filter(self, record: logging.LogRecord) -> bool:
        if self.member is not None and getattr(record, "member", None) is None:
            record.member = self.member
        return True


class TextFormatter(logging.Formatter):
    """``2024-05-01 12:00:00,123 INFO jarvis.x message [partition=oslo epoch=17]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._scrub = _Scrubber(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context(record)
        if context:
            tail = " ".join(f"{k}={v}" for k, v in context.items())
            head, newline, rest = line.partition("\n")  # before any traceback
            line = f"{head} [{tail}]{newline}{rest}"
        return self._scrub(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (tracebacks inside it, never on lines of their own)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._scrub = _Scrubber(secrets)

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        document: dict[str, Any] = {
            "ts": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return self._scrub(json.dumps(document, default=str, ensure_ascii=False))


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the time of writing (tests swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _JarvisHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler :func:`configure_logging` installed, so a second call replaces it."""


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "text",
    *,
    member: str | None = None,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send the root logger's records to ``stream`` (standard error) in format ``fmt``.

    Calling it again replaces the handler it installed before (the CLI configures
    logging once from flags, then again once ``jarvis run`` has its settings).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _JarvisHandler):
            root.removeHandler(handler)
            handler.close()
    handler = _JarvisHandler(_CurrentStderr() if stream is None else stream)
    secrets = list(secrets)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    handler.addFilter(ContextFilter(member))
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    return handler
