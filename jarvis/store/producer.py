"""The producer client: validated events onto their partition's incoming stream.

An event is acknowledged (``submit`` returns its stream id) only once Redis accepted
the ``XADD``. Submitting the same event twice is safe: the partition applies an event
id once (within the idempotency horizon of the store, see ``jarvis.store.city``), so a
producer that did not get an acknowledgement simply submits again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import redis
from redis.typing import EncodableT, FieldT

from jarvis.errors import StoreError
from jarvis.models.events import Event, validate_event
from jarvis.store.city import EVENT_FIELD
from jarvis.store.keys import DEFAULT_NAMESPACE, PartitionKeys
from jarvis.store.replies import text

__all__ = ["Producer"]

log = logging.getLogger(__name__)

EventInput = Event | Mapping[str, Any] | str | bytes


class Producer:
    """Writes events to ``<namespace>:{<partition>}:in``, one stream entry per event."""

    def __init__(self, redis: redis.Redis, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.redis = redis
        self.namespace = namespace

    def _entry(self, event: EventInput) -> tuple[str, dict[FieldT, EncodableT]]:
        valid = validate_event(event)
        stream = PartitionKeys(valid.partition, self.namespace).events_in
        return stream, {EVENT_FIELD: valid.model_dump_json()}

    def submit(self, event: EventInput) -> str:
        """Validate ``event`` and append it to its partition's stream; its stream id.

        BadInputError (nothing written) when the event is malformed; StoreError when
        Redis did not accept it (then it is not acknowledged: submit again).
        """
        stream, fields = self._entry(event)
        try:
            return text(self.redis.xadd(stream, fields))
        except redis.RedisError as exc:
            raise StoreError(f"submitting to {stream} failed: {exc}") from exc

    def submit_many(self, events: Iterable[EventInput]) -> list[str]:
        """Validate all, then append all in one pipelined round trip; their stream ids.

        If any event is malformed, BadInputError and nothing is written. On a Redis
        failure some events may have been written; none is acknowledged, and submitting
        them all again is safe (idempotent by event id).
        """
        entries = [self._entry(event) for event in events]
        if not entries:
            return []
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for stream, fields in entries:
                    pipe.xadd(stream, fields)
                replies = pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"submitting {len(entries)} events failed: {exc}") from exc
        log.debug("submitted %d events", len(replies))
        return [text(reply) for reply in replies]
