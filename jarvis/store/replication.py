"""Acknowledged means replicated: a write and its ``WAIT`` on one connection of one node.

``WAIT numreplicas timeout`` blocks until every write sent *on the same connection*
reached ``numreplicas`` replicas of *the node it runs on*. So a write and its ``WAIT``
must share a connection, and in a Redis Cluster that connection must be to the primary
serving the write's slot. :func:`run_replicated` and :func:`write_replicated` send the
write and ``WAIT`` back to back on one pooled connection to that node (one round trip),
and raise :class:`~jarvis.errors.NotReplicatedError` when fewer replicas than asked
confirmed in time: the write may or may not survive a failover, so its outcome is
unknown. The caller must then not act on it: the HTTP caller gets a 503 and may retry
(every write is idempotent); a partition owner re-reads its state.

With ``min_replicas == 0`` (standalone Redis without replicas, the default) the write is
sent as usual and nothing waits.

A ``MOVED`` reply (the slot is served elsewhere now, after a failover) means the write
did not run: the client's slot map is refreshed and the write sent again, at most
:data:`MOVED_RETRIES` times.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import hiredis
import redis
from redis.commands.core import Script
from redis.exceptions import AskError, MovedError, NoScriptError

from jarvis.errors import NotReplicatedError, StoreError
from jarvis.store.exchange import exchange, exchange_each

__all__ = [
    "NO_REPLICATION",
    "RedisClient",
    "Replication",
    "node_for",
    "run_replicated",
    "write_chained",
    "write_replicated",
]

log = logging.getLogger(__name__)

#: A standalone client or a Redis Cluster client; every store object takes either.
RedisClient: TypeAlias = "redis.Redis | redis.RedisCluster"
Command = tuple[Any, ...]

MOVED_RETRIES = 2


@dataclass(frozen=True, slots=True)
class Replication:
    """How many replicas must confirm a write, and how long to wait for them."""

    min_replicas: int = 0
    timeout: float = 1.0

    def __post_init__(self) -> None:
        if self.min_replicas < 0 or not self.timeout > 0:
            raise ValueError(f"invalid replication policy {self!r}")

    @property
    def timeout_ms(self) -> int:
        return max(1, int(self.timeout * 1000))


NO_REPLICATION = Replication(0)


def node_for(client: RedisClient, key: str) -> redis.Redis:
    """The client of the node that takes writes for ``key`` (``client`` if standalone)."""
    if isinstance(client, redis.RedisCluster):
        node = client.get_node_from_key(key)  # type: ignore[no-untyped-call]
        node_client: redis.Redis = client.get_redis_connection(node)
        return node_client
    return client


def _refresh(client: RedisClient) -> None:
    if isinstance(client, redis.RedisCluster):
        try:
            client.nodes_manager.initialize()
        except redis.RedisError as exc:
            log.warning("refreshing the Redis Cluster slot map failed: %s", exc)


def write_replicated(
    client: RedisClient, key: str, commands: Sequence[Command], replication: Replication
) -> list[Any]:
    """Run ``commands`` (all on ``key``'s slot) on its primary, then ``WAIT``.

    Returns the commands' replies. Redis errors are raised as redis-py raises them
    (the first failed command's), a ``WAIT`` short of ``replication.min_replicas`` as
    :class:`~jarvis.errors.NotReplicatedError`.
    """
    if replication.min_replicas == 0:
        with node_for(client, key).pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)  # type: ignore[no-untyped-call]
            return list(pipe.execute())
    wait: Command = ("WAIT", replication.min_replicas, replication.timeout_ms)
    for attempt in range(MOVED_RETRIES + 1):
        try:
            sent = [*commands, wait]
            packed = b"".join(hiredis.pack_command(command) for command in sent)
            replies = exchange(node_for(client, key), packed, len(sent))
        except (redis.ConnectionError, redis.TimeoutError):
            _refresh(client)
            raise
        redirected = any(isinstance(r, MovedError | AskError) for r in replies[:-1])
        if redirected and attempt < MOVED_RETRIES:
            _refresh(client)
            continue
        return _acknowledged(key, replies[:-1], replies[-1], replication)
    raise StoreError(f"key {key!r}: the cluster kept redirecting the write")  # pragma: no cover


def _acknowledged(key: str, replies: list[Any], acked: Any, replication: Replication) -> list[Any]:
    """``replies``, unless one is an error reply (the first is raised) or ``acked`` (the
    ``WAIT``'s reply) is short of ``replication.min_replicas``."""
    for reply in replies:
        if isinstance(reply, redis.ResponseError):
            raise reply
    if isinstance(acked, redis.ResponseError) or int(acked) < replication.min_replicas:
        raise NotReplicatedError(key, replication.min_replicas, _count(acked), replies)
    return replies


def write_chained(
    client: RedisClient, key: str, commands: Iterable[Command], replication: Replication
) -> list[Any]:
    """:func:`write_replicated` for commands built one by one, each sent as soon as
    ``commands`` yields it (on one connection, in order, one ``WAIT`` after the last):
    the node runs one while the caller builds the next.

    Each command runs on its own; a caller whose commands must run all or none makes
    each refuse to run unless the one before it did (a compare-and-set). When the first
    reply is a redirection, nothing ran: the commands are sent again, all at once, by
    :func:`write_replicated`.
    """
    sent: list[Command] = []

    def packed() -> Iterator[bytes]:
        for command in commands:
            sent.append(command)
            yield hiredis.pack_command(command)

    wait: Command = ("WAIT", replication.min_replicas, replication.timeout_ms)
    then = hiredis.pack_command(wait) if replication.min_replicas else b""
    try:
        replies = exchange_each(node_for(client, key), packed(), then)
    except (redis.ConnectionError, redis.TimeoutError):
        _refresh(client)
        raise
    if replies and isinstance(replies[0], MovedError | AskError):
        _refresh(client)
        return write_replicated(client, key, sent, replication)
    if not then:  # no replica to wait for: the replies say it all
        return _acknowledged(key, replies, replication.min_replicas, replication)
    return _acknowledged(key, replies[:-1], replies[-1], replication)


def _count(reply: Any) -> int:
    return 0 if isinstance(reply, Exception) else int(reply)


def run_replicated(
    client: RedisClient,
    script: Script,
    keys: Sequence[str],
    args: Sequence[str | int | float],
    replication: Replication,
) -> Any:
    """Call ``script`` on the primary of ``keys[0]``'s slot, then ``WAIT``; its reply.

    A script the node does not know yet (``NOSCRIPT``) is loaded there and run again.
    """
    if replication.min_replicas == 0:
        return script(keys=list(keys), args=list(args))
    command: Command = ("EVALSHA", script.sha, len(keys), *keys, *args)
    try:
        return write_replicated(client, keys[0], [command], replication)[0]
    except NoScriptError:
        node = node_for(client, keys[0])
        script.sha = str(node.script_load(script.script))
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        return write_replicated(client, keys[0], [command], replication)[0]
