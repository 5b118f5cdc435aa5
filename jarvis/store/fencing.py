"""Running a fenced Lua script and turning Redis errors into ours.

A fenced script replies ``FENCED <highest>`` when its epoch is stale (see
``scripts/fence.lua``); :func:`run_fenced` raises :class:`~jarvis.errors.FencedError`
for it and :class:`~jarvis.errors.StoreError` for every other Redis failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script

from jarvis.errors import BadInputError, FencedError, StoreError

__all__ = ["check_epoch", "read_stream", "run_fenced", "stream_entries", "text"]


def check_epoch(epoch: int) -> str:
    """``epoch`` as the decimal string the scripts compare (64-bit, non-negative)."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < 2**64:
        raise BadInputError(f"epoch must be an integer in [0, 2**64), got {epoch!r}")
    return str(epoch)


def text(value: Any) -> str:
    """A reply value as ``str`` whether or not the client decodes responses.

    Bytes that are not UTF-8 are shown with replacement characters, never an error.
    """
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """An ``XRANGE`` reply as (entry id, fields) pairs of text."""
    return [
        (text(entry_id), {text(k): text(v) for k, v in (fields or {}).items()})
        for entry_id, fields in reply or ()
    ]


def read_stream(client: redis.Redis, key: str, after: str, count: int) -> list[tuple[str, Any]]:
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


def run_fenced(
    script: Script,
    keys: Sequence[str],
    args: Sequence[str | int | float],
    partition: str,
    epoch: int,
) -> Any:
    """Call ``script`` (whose ``ARGV[1]`` is ``epoch``); map FENCED and Redis errors."""
    try:
        return script(keys=list(keys), args=list(args))
    except redis.ResponseError as exc:
        message = str(exc)
        if message.startswith("FENCED "):
            raise FencedError(partition, epoch, int(message.split()[1])) from exc
        raise StoreError(f"partition {partition!r}: script failed: {message}") from exc
    except redis.RedisError as exc:
        raise StoreError(f"partition {partition!r}: Redis failed: {exc}") from exc
