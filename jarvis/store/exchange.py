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

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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


@contextmanager
def _pooled(node: redis.Redis) -> Iterator[Connection]:
    """A pooled connection of ``node``, given back to the pool after the block; first
    disconnected if the block failed part-way (a timeout, a reset, an error of the
    caller's): a half-read connection must not go back to the pool."""
    pool = node.connection_pool
    conn: Connection = pool.get_connection()
    try:
        yield conn
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]  # untyped in redis-py
        raise
    finally:
        pool.release(conn)


def exchange(
    node: redis.Redis, packed: bytes, count: int, read: Reader = read_replies
) -> list[Any]:
    """Send ``packed`` (RESP of ``count`` commands) on one pooled connection of
    ``node``, then read ``count`` replies with ``read``; the replies in order, error
    replies as exceptions. A failure part-way disconnects the connection and is raised:
    the outcome of what was sent is unknown."""
    with _pooled(node) as conn:
        conn.send_packed_command([packed])  # type: ignore[no-untyped-call]  # untyped in redis-py
        return read(conn, count)


def exchange_each(node: redis.Redis, packed: Iterable[bytes], then: bytes = b"") -> list[Any]:
    """:func:`exchange` for commands built one by one: each command of ``packed`` (the
    RESP of one command) is sent as soon as ``packed`` yields it, before the next is
    built, so the server runs one while the caller builds the next; ``then`` (one more
    command, a ``WAIT``) is sent after them. The replies of all, in order, error replies
    as exceptions. A failure part-way, also of ``packed`` itself, disconnects the
    connection and is raised: what was sent runs, its outcome unknown here."""
    with _pooled(node) as conn:
        count = 0
        # chained, not listed: each command goes before the next is built
        for command in itertools.chain(packed, (then,) if then else ()):
            conn.send_packed_command([command])  # type: ignore[no-untyped-call]  # untyped in redis-py
            count += 1
        return read_replies(conn, count)
