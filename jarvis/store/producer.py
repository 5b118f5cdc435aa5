"""The producer client: validated events onto their partition's incoming stream.

An event is acknowledged (``submit`` returns its stream id) only once Redis accepted
the ``XADD``. Submitting the same event twice is safe: the partition applies an event
id once (within the idempotency horizon of the store, see ``jarvis.store.city``), so a
producer that did not get an acknowledgement simply submits again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import hiredis
import redis
from redis._parsers.base import BaseParser
from redis.connection import Connection
from redis.exceptions import InvalidResponse

from jarvis.errors import StoreError
from jarvis.models.events import Event, validate_event
from jarvis.store.city import EVENT_FIELD
from jarvis.store.exchange import exchange
from jarvis.store.keys import DEFAULT_NAMESPACE, PartitionKeys
from jarvis.store.replication import (
    NO_REPLICATION,
    RedisClient,
    Replication,
    write_replicated,
)
from jarvis.store.replies import text

__all__ = ["Producer"]

log = logging.getLogger(__name__)

#: What redis-py raises for an error reply (ResponseError or its subclass for the code).
_PARSE_ERROR = BaseParser.parse_error

EventInput = Event | Mapping[str, Any] | str | bytes


class Producer:
    """Writes events to ``<namespace>:{<partition>}:in``, one stream entry per event."""

    def __init__(
        self,
        redis: RedisClient,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        replication: Replication = NO_REPLICATION,
    ) -> None:
        self.redis = redis
        self.namespace = namespace
        self.replication = replication

    def _entry(self, event: EventInput) -> tuple[str, bytes]:
        """The stream of ``event`` and its JSON (validated first)."""
        valid = validate_event(event)
        stream = _stream(valid.partition, self.namespace)
        # model_dump_json() without its keyword handling: the same JSON, as bytes
        return stream, valid.__pydantic_serializer__.to_json(valid)

    def _packed(self, event: EventInput) -> bytes:
        """The RESP of the ``XADD`` that appends ``event`` (validated first)."""
        valid = validate_event(event)
        payload: bytes = valid.__pydantic_serializer__.to_json(valid)
        head = _xadd_head(valid.partition, self.namespace)
        return b"%s$%d\r\n%s\r\n" % (head, len(payload), payload)

    def submit(self, event: EventInput) -> str:
        """Validate ``event`` and append it to its partition's stream; its stream id.

        BadInputError (nothing written) when the event is malformed; StoreError when
        Redis did not accept it, NotReplicatedError when too few replicas confirmed it in
        time (either way it is not acknowledged: submit again).
        """
        stream, payload = self._entry(event)
        try:
            if self.replication.min_replicas:
                [entry_id] = write_replicated(
                    self.redis, stream, [_xadd(stream, payload)], self.replication
                )
                return text(entry_id)
            return text(self.redis.xadd(stream, {EVENT_FIELD: payload}))
        except redis.RedisError as exc:
            raise StoreError(f"submitting to {stream} failed: {exc}") from exc

    def submit_many(self, events: Iterable[EventInput]) -> list[str]:
        """Validate all, then append all in one pipelined round trip; their stream ids.

        On one server without replication, the ``XADD`` commands are packed here (RESP)
        and written to one pooled connection at once, replies read back in order: what
        redis-py's pipeline does, without its per-command work (``Pipeline`` cost the
        producer about as much CPU as validating and serialising the events).

        If any event is malformed, BadInputError and nothing is written. On a Redis
        failure some events may have been written; none is acknowledged, and submitting
        them all again is safe (idempotent by event id).
        """
        if self.replication.min_replicas or isinstance(self.redis, redis.RedisCluster):
            entries = [self._entry(event) for event in events]
            return self._submit_per_stream(entries) if entries else []
        commands = [self._packed(event) for event in events]
        if not commands:
            return []
        try:
            replies = _exchange(self.redis, b"".join(commands), len(commands))
        except redis.RedisError as exc:
            raise StoreError(f"submitting {len(commands)} events failed: {exc}") from exc
        log.debug("submitted %d events", len(replies))
        return replies

    def _submit_per_stream(self, entries: list[tuple[str, bytes]]) -> list[str]:
        """Each stream's entries in one round trip to its primary, then ``WAIT``."""
        by_stream: dict[str, list[int]] = {}
        for i, (stream, _) in enumerate(entries):
            by_stream.setdefault(stream, []).append(i)
        ids: list[str] = [""] * len(entries)
        failed: StoreError | None = None  # one stream failing does not hold up the others
        for stream, indexes in by_stream.items():
            commands = [_xadd(stream, entries[i][1]) for i in indexes]
            try:
                replies = write_replicated(self.redis, stream, commands, self.replication)
            except redis.RedisError as exc:
                what = f"submitting {len(indexes)} events to {stream}"
                failed = failed or StoreError(f"{what} failed: {exc}")
                continue
            except StoreError as exc:  # NotReplicatedError: outcome unknown
                failed = failed or exc
                continue
            for i, reply in zip(indexes, replies, strict=True):
                ids[i] = text(reply)
        if failed is not None:
            raise failed
        log.debug("submitted %d events", len(ids))
        return ids


@functools.lru_cache(maxsize=4096)
def _stream(partition: str, namespace: str) -> str:
    """The incoming stream of ``partition`` (its id checked once, not once per event)."""
    return PartitionKeys(partition, namespace).events_in


@functools.lru_cache(maxsize=4096)
def _xadd_head(partition: str, namespace: str) -> bytes:
    """The RESP of ``XADD <stream> * event``, before the event's JSON (packed once)."""
    parts = [b"XADD", _stream(partition, namespace).encode(), b"*", EVENT_FIELD.encode()]
    return b"*5\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


def _exchange(client: redis.Redis, packed: bytes, count: int) -> list[str]:
    """Send ``count`` packed ``XADD`` on one pooled connection; their entry ids. Every
    reply is read (the connection stays in step) before the first error is raised.

    The replies are read by :func:`_replies`, a hiredis ``Reader`` of their own fed
    straight from the connection's socket: redis-py's ``read_response`` per reply (its
    parser, error and host checks, decoding switch) cost about a third of the producer's
    CPU. The connection's own parser is left as it was: it holds nothing before the batch
    is sent and this reads every reply of the batch, no more.
    """
    ids: list[str] = []
    failed: redis.ResponseError | None = None
    for reply in exchange(client, packed, count, _replies):
        if isinstance(reply, redis.ResponseError):
            failed = failed or reply
        else:
            ids.append(reply.decode())
    if failed is not None:
        raise failed
    return ids


def _replies(conn: Connection, count: int) -> list[Any]:
    """The next ``count`` replies on ``conn``'s socket; an error reply as the
    ``redis.ResponseError`` redis-py would raise for it (returned, not raised)."""
    sock = conn._sock  # redis-py's socket, connected by send_packed_command
    if sock is None:
        raise redis.ConnectionError("the connection closed before its replies were read")
    reader = hiredis.Reader(protocolError=InvalidResponse, replyError=_PARSE_ERROR)
    replies: list[Any] = []
    buffer = bytearray(65536)
    view = memoryview(buffer)
    while len(replies) < count:
        reply = reader.gets()
        if reply is not False:
            replies.append(reply)
            continue
        try:
            size = sock.recv_into(buffer)
        except OSError as exc:  # a timeout or a reset: the outcome of the batch is unknown
            raise redis.ConnectionError(f"reading replies failed: {exc}") from exc
        if not size:
            raise redis.ConnectionError("the server closed the connection")
        reader.feed(view[:size])
    return replies


def _xadd(stream: str, payload: bytes) -> tuple[Any, ...]:
    """The command that appends one event entry (its JSON in field ``event``)."""
    return ("XADD", stream, "*", EVENT_FIELD, payload)
