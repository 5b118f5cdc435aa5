"""A store's incoming events (``work_submitted``, ``work_completed``), applied by its
owner in one fenced script per batch (``work_apply.lua``), as cities apply theirs.

Like :meth:`jarvis.store.city.CityStore.apply_events`: the cursor moves by
compare-and-set in the script that applies the batch; an event id is applied once
within ``horizon_s`` (a producer's retry is counted as a duplicate, not applied again
and not dead-lettered); an event that cannot be applied goes to the dead-letter stream
with its reason and the writer's epoch; applied entries of the incoming stream older
than the horizon are trimmed, so the stream of a busy store stays bounded. A deposed
owner is refused before anything is written (FencedError).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import redis

from jarvis.errors import BadInputError, StoreError
from jarvis.models.events import WorkCompleted, WorkSubmitted, parse_event
from jarvis.store.city import DEFAULT_DEAD_MAXLEN, DEFAULT_HORIZON_S, EVENT_FIELD, ApplyResult
from jarvis.store.replies import read_stream, text
from jarvis.store.runner import check_epoch
from jarvis.store.specs import WORK_APPLY, Arg
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue
from jarvis.store.work.rules import item_class, start_by

__all__ = ["WorkEvents"]

log = logging.getLogger(__name__)


class WorkEvents:
    """The event side of the stores served by ``work`` (its Redis, namespace, clock,
    enqueue rules and scripts)."""

    def __init__(
        self,
        work: WorkQueue,
        *,
        horizon_s: float = DEFAULT_HORIZON_S,
        dead_maxlen: int = DEFAULT_DEAD_MAXLEN,
    ) -> None:
        if not horizon_s > 0 or not math.isfinite(horizon_s):
            raise BadInputError(f"horizon_s must be a positive number, got {horizon_s!r}")
        self.work = work
        self.horizon_ms = int(horizon_s * 1000)
        self.dead_maxlen = dead_maxlen

    def apply(self, store: str, epoch: int, max_events: int = 2000) -> ApplyResult:
        """Apply up to ``max_events`` new entries of ``store``'s incoming stream.

        Never raises for a bad event (it is dead-lettered); FencedError when ``epoch``
        is stale; StoreError when Redis fails or another writer moved the cursor.
        """
        check_epoch(epoch)
        if max_events < 1:
            raise BadInputError(f"max_events must be at least 1, got {max_events!r}")
        keys = WorkKeys(store, self.work.namespace)
        part = keys.partition
        client = self.work.redis
        try:
            cursor = text(client.get(part.cursor) or "")
            entries = read_stream(client, part.events_in, cursor, max_events)
        except redis.RedisError as exc:
            raise StoreError(f"store {store!r}: reading events failed: {exc}") from exc
        now = self.work.clock()
        queues: dict[str, int] = {}
        slots = [self._slots(keys, entry_id, fields, now, queues) for entry_id, fields in entries]
        last = entries[-1][0] if entries else cursor
        applied, duplicates, dead = self.work.scripts.run(
            WORK_APPLY,
            store,
            {"epoch": part.epoch, "stats": part.stats, "cursor": part.cursor,
             "applied": part.applied_events, "in": part.events_in, "dead": part.dead_letter,
             "items": keys.items, "done": keys.done, "heads": keys.heads,
             "claims": keys.claims, "leases": keys.leases, "work_stats": keys.stats,
             "attempts": keys.attempts, "history": keys.history, "cancelled": keys.cancelled},
            {"cursor": cursor, "last": last, "horizon_ms": self.horizon_ms,
             "dead_maxlen": self.dead_maxlen, "partition": store, "now": float(now)},
            more_keys=list(queues),
            more_args=slots,
            epoch=epoch,
        )  # fmt: skip
        if dead:
            log.warning("store %s: %d event(s) dead-lettered", store, dead)
        return ApplyResult(int(applied), int(duplicates), int(dead), last)

    def _slots(
        self,
        keys: WorkKeys,
        entry_id: str,
        fields: Mapping[bytes, bytes],
        now: float,
        queues: dict[str, int],
    ) -> dict[str, Arg]:
        """The script slots of one entry; a queue it needs joins ``queues`` (key -> its
        index in the script's KEYS)."""
        raw = {text(k): v for k, v in fields.items()}.get(EVENT_FIELD)
        if raw is None:
            return _bad(entry_id, f"entry has no {EVENT_FIELD!r} field")
        try:
            event = parse_event(raw)
            if event.partition != keys.store:
                raise BadInputError(
                    f"event for partition {event.partition!r} sent to {keys.store!r}"
                )
            if isinstance(event, WorkSubmitted):
                item = event.item
                if item.store != keys.store:
                    raise BadInputError(f"work item of store {item.store!r} sent to {keys.store!r}")
                self.work.rules.check(item)
                if item.created_at == 0.0:
                    item = item.model_copy(update={"created_at": now})
                queue = keys.queue(item_class(item))
                at = queues.setdefault(queue, len(WORK_APPLY.keys) + len(queues) + 1)
                a, b = item.id, item.model_dump_json()
                c, d = repr(float(start_by(item, now, self.work.policy))), str(at)
            elif isinstance(event, WorkCompleted):
                a, b, c, d = event.item_id, event.associate_id, "", ""
            else:
                raise BadInputError(f"event type {event.type} does not apply to a store")
        except BadInputError as exc:
            return _bad(entry_id, str(exc))
        return {"stream_id": entry_id, "type": event.type, "event_id": event.id,
                "a": a, "b": b, "c": c, "d": d}  # fmt: skip


def _bad(entry_id: str, reason: str) -> dict[str, Arg]:
    return {"stream_id": entry_id, "type": "bad", "event_id": "", "a": reason,
            "b": "", "c": "", "d": ""}  # fmt: skip
