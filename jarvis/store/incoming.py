"""Reading a partition's incoming stream for apply: each entry's id and raw event JSON.

The apply of a city (:mod:`jarvis.store.city`) and of a store
(:mod:`jarvis.store.work.events`) read up to thousands of entries a tick. redis-py turns
an ``XRANGE`` reply into (id, dict) pairs through its response callbacks, a dict built
per entry only to take one field out of it again: that was a tenth of apply's client
CPU. Here the command goes straight to a pooled connection of the node that serves the
stream and the reply is read undecoded: ids as text, the ``event`` field as the bytes
Redis holds, so an entry that is not UTF-8 reaches validation instead of failing the read.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.connection import Connection

from jarvis.store.replication import RedisClient, node_for

__all__ = ["EVENT_FIELD", "read_incoming"]

#: Field of an incoming-stream entry that holds the event JSON.
EVENT_FIELD = "event"
_EVENT_KEY = EVENT_FIELD.encode()


def read_incoming(
    client: RedisClient, key: str, after: str, count: int
) -> list[tuple[str, bytes | None]]:
    """Up to ``count`` entries of stream ``key`` after entry id ``after`` ('' or '-': from
    the start), oldest first: (entry id, its ``event`` field, None if it has none)."""
    start = f"({after}" if after not in ("", "-") else "-"
    reply = _command(node_for(client, key), "XRANGE", key, start, "+", "COUNT", count)
    return [(entry_id.decode(), _event_field(fields)) for entry_id, fields in reply or ()]


def _event_field(fields: list[bytes] | None) -> bytes | None:
    if not fields:
        return None
    if fields[0] == _EVENT_KEY:  # the producer's entries: one field, ``event``
        return fields[1]
    for i in range(0, len(fields) - 1, 2):
        if fields[i] == _EVENT_KEY:
            return fields[i + 1]
    return None


def _command(node: redis.Redis, *args: Any) -> Any:
    """One command on a pooled connection of ``node``; its reply, undecoded and as Redis
    sent it (no response callback)."""
    pool = node.connection_pool
    conn: Connection = pool.get_connection()
    try:
        conn.send_command(*args)  # type: ignore[no-untyped-call]  # untyped in redis-py
        return conn.read_response(disable_decoding=True)
    except redis.ResponseError:
        raise  # an error reply: the connection is in step
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]  # a half-read connection must not go back to the pool
        raise
    finally:
        pool.release(conn)
