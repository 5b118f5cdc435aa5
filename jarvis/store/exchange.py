"""Packed commands exchanged on one pooled connection: sent as RESP, replies read back.

What redis-py's pipeline does, without its per-command work, for the callers that pack
their commands themselves: the producer's ``XADD`` batches (:mod:`jarvis.store.producer`),
the batched idle checks (:mod:`jarvis.store.idle_batch`) and a write with its ``WAIT``
(:mod:`jarvis.store.replication`). Every reply is read, an error reply kept as the
exception redis-py would raise for it, so the connection stays in step and goes back to
the pool; a connection that failed part-way (a timeout, a reset) is disconnected
instead, never returned half-read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import redis
from redis.connection import Connection

__all__ = ["Reader", "exchange", "exchange_each", "read_replies"]

#: Reads the next ``count`` replies from a connection (error replies returned, not raised).
Reader = Callable[[Connection, int], list[Any]]


def read_replies(conn: Connection, count: int) -> list[Any]:
    """The next ``count`` replies, by the connection's own parser; an error reply as its
    ``redis.ResponseError`` (returned, not raised: the connection is in step)."""
    replies: list[Any] = []
    for _ in range(count):
        try:
            replies.append(conn.read_response())
        except redis.ResponseError as exc:
            replies.append(exc)
    return replies


def exchange(
    node: redis.Redis, packed: bytes, count: int, read: Reader = read_replies
) -> list[Any]:
    """Send ``packed`` (RESP of ``count`` commands) on one pooled connection of
    ``node``, then read ``count`` replies with ``read``; the replies in order, error
    replies as exceptions. A failure part-way disconnects the connection and is raised:
    the outcome of what was sent is unknown."""
    pool = node.connection_pool
    conn: Connection = pool.get_connection()
    try:
        conn.send_packed_command([packed])  # type: ignore[no-untyped-call]  # untyped in redis-py
        return read(conn, count)
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]  # a half-read connection must not go back to the pool
        raise
    finally:
        pool.release(conn)


def exchange_each(node: redis.Redis, packed: Iterable[bytes], then: bytes = b"") -> list[Any]:
    """:func:`exchange` for commands built one by one: each command of ``packed`` (the
    RESP of one command) is sent as soon as ``packed`` yields it, before the next is
    built, so the server runs one while the caller builds the next; ``then`` (one more
    command, a ``WAIT``) is sent after them. The replies of all, in order, error replies
    as exceptions. A failure part-way, also of ``packed`` itself, disconnects the
    connection and is raised: what was sent runs, its outcome unknown here."""
    pool = node.connection_pool
    conn: Connection = pool.get_connection()
    try:
        count = 0
        for command in packed:
            conn.send_packed_command([command])  # type: ignore[no-untyped-call]  # untyped in redis-py
            count += 1
        if then:
            conn.send_packed_command([then])  # type: ignore[no-untyped-call]  # untyped in redis-py
            count += 1
        return read_replies(conn, count)
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]  # a half-read connection must not go back to the pool
        raise
    finally:
        pool.release(conn)
