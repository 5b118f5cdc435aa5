"""Redis replies and errors as Jarvis sees them: text, stream entries, wrapped errors.

One :func:`text` for every reply value, whether the client decodes responses or not:
bytes that are not UTF-8 come out with replacement characters, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

import redis

from jarvis.errors import StoreError
from jarvis.store.replication import RedisClient

__all__ = ["guarded", "read_stream", "stream_entries", "text"]

_P = ParamSpec("_P")


def text(value: Any) -> str:
    """A reply value as ``str`` whether or not the client decodes responses."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """An ``XRANGE`` reply as (entry id, fields) pairs of text."""
    return [
        (text(entry_id), {text(k): text(v) for k, v in (fields or {}).items()})
        for entry_id, fields in reply or ()
    ]


def read_stream(client: RedisClient, key: str, after: str, count: int) -> list[tuple[str, Any]]:
    """Up to ``count`` entries of stream ``key`` after ``after`` ('' or '-': from the start).

    Field values come back undecoded (bytes) even from a client that decodes replies, so
    an entry that is not UTF-8 reaches our validation instead of failing the read.
    """
    start = f"({after}" if after not in ("", "-") else "-"
    # redis-py types xrange() but not execute_command(), the only way to pass NEVER_DECODE.
    reply = client.execute_command(  # type: ignore[no-untyped-call]
        "XRANGE", key, start, "+", "COUNT", count, NEVER_DECODE=True
    )
    return [(text(entry_id), fields or {}) for entry_id, fields in reply or ()]


def guarded(what: str, call: Callable[_P, Any]) -> Callable[_P, Any]:
    """``call``, with redis-py's errors turned into StoreError("could not <what>")."""

    def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> Any:
        try:
            return call(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreError(f"could not {what}: {exc}") from exc

    return wrapped
