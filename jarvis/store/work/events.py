"""A store's incoming events (``work_submitted``, ``work_completed``, ``work_cancelled``,
``work_updated``), applied by its owner in one fenced script per batch
(``work_apply.lua``), as cities apply theirs.

Like :meth:`jarvis.store.city.CityStore.apply_events`: the cursor moves by
compare-and-set in the script that applies the batch; an event id is applied once
within ``horizon_s`` (a producer's retry is counted as a duplicate, not applied again
and not dead-lettered); an event that cannot be applied goes to the dead-letter stream
with its reason and the writer's epoch; applied entries of the incoming stream older
than the horizon are trimmed, so the stream of a busy store stays bounded. A deposed
owner is refused before anything is written (FencedError).

``work_cancelled`` and ``work_updated`` have the semantics of ``DELETE`` and ``PATCH``
over HTTP (:mod:`jarvis.store.work.changes`), through the same Lua (``cancel`` and
``update`` of ``work_lib.lua``): a queued item changes in place, a claimed item's holder
learns it on its next heartbeat or complete (``item_cancelled``). The owner reads the
JSON of the items they name once per batch (one ``HMGET``) and follows the batch's own
changes, so a batch may submit, update and cancel one item in order. An update is a
compare-and-set on the JSON read: if a ``PATCH`` changed the item in between, the event
is dead-lettered with a reason saying to re-submit it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import orjson
import pydantic
import redis

from jarvis.errors import BadInputError, StoreError
from jarvis.models.events import (
    Event,
    WorkCancelled,
    WorkCompleted,
    WorkSubmitted,
    WorkUpdated,
    parse_event,
)
from jarvis.models.work import WorkItem
from jarvis.store.city import DEFAULT_DEAD_MAXLEN, DEFAULT_HORIZON_S, EVENT_FIELD, ApplyResult
from jarvis.store.incoming import read_incoming
from jarvis.store.replies import text
from jarvis.store.runner import check_epoch
from jarvis.store.specs import WORK_APPLY
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
            entries = read_incoming(client, part.events_in, cursor, max_events)
            parsed = [(entry_id, self._parse(keys, raw)) for entry_id, raw in entries]
            items = self._read_items(keys, [e for _, e in parsed])
        except redis.RedisError as exc:
            raise StoreError(f"store {store!r}: reading events failed: {exc}") from exc
        now = self.work.clock()
        queues: dict[str, int] = {}
        # one flat array of the entries' seven slots, entry after entry (work_apply.lua)
        batch = [
            slot
            for entry_id, event in parsed
            for slot in self._slots(keys, entry_id, event, now, queues, items)
        ]
        last = entries[-1][0] if entries else cursor
        applied, duplicates, dead = self.work.scripts.run(
            WORK_APPLY,
            store,
            {"epoch": part.epoch, "stats": part.stats, "cursor": part.cursor,
             "applied": part.applied_events, "in": part.events_in, "dead": part.dead_letter,
             "items": keys.items, "done": keys.done, "heads": keys.heads,
             "claims": keys.claims, "leases": keys.leases, "work_stats": keys.stats,
             "attempts": keys.attempts, "history": keys.history, "cancelled": keys.cancelled,
             "dead_set": keys.dead, "dead_at": keys.dead_at, "completions": keys.completions},
            {"cursor": cursor, "last": last, "horizon_ms": self.horizon_ms,
             "dead_maxlen": self.dead_maxlen, "partition": store, "now": float(now),
             "forget_before": float(now - self.work.done_retention_s),
             "batch": orjson.dumps(batch).decode()},
            more_keys=list(queues),
            epoch=epoch,
        )  # fmt: skip
        if dead:
            log.warning("store %s: %d event(s) dead-lettered", store, dead)
        return ApplyResult(int(applied), int(duplicates), int(dead), last)

    @staticmethod
    def _parse(keys: WorkKeys, raw: bytes | None) -> Event | str:
        """The entry's event, or the reason it is bad (``raw``: its event field)."""
        if raw is None:
            return f"entry has no {EVENT_FIELD!r} field"
        try:
            event = parse_event(raw)
        except BadInputError as exc:
            return str(exc)
        if event.partition != keys.store:
            return f"event for partition {event.partition!r} sent to {keys.store!r}"
        return event

    def _read_items(self, keys: WorkKeys, events: list[Event | str]) -> dict[str, str | None]:
        """The stored JSON (None: not there) of every item a cancel or update names."""
        ids = sorted({e.item_id for e in events if isinstance(e, WorkCancelled | WorkUpdated)})
        if not ids:
            return {}
        raws = self.work.redis.hmget(keys.items, ids)
        return {i: None if r is None else text(r) for i, r in zip(ids, raws, strict=True)}

    def _slots(
        self,
        keys: WorkKeys,
        entry_id: str,
        event: Event | str,
        now: float,
        queues: dict[str, int],
        items: dict[str, str | None],
    ) -> tuple[str, ...]:
        """The script slots of one entry, (stream id, type, event id, a, b, c, d); a queue
        it needs joins ``queues`` (key -> its index in the script's KEYS); ``items`` (item
        id -> JSON) follows the batch."""
        if isinstance(event, str):
            return _bad(entry_id, event)

        def queue_at(queue: str) -> str:
            return str(queues.setdefault(queue, len(WORK_APPLY.keys) + len(queues) + 1))

        try:
            if isinstance(event, WorkSubmitted):
                item = event.item
                if item.store != keys.store:
                    raise BadInputError(f"work item of store {item.store!r} sent to {keys.store!r}")
                self.work.rules.check(item)
                if item.created_at == 0.0:
                    item = item.model_copy(update={"created_at": now})
                a, b = item.id, item.model_dump_json()
                c = repr(float(start_by(item, now, self.work.policy)))
                d = queue_at(keys.queue(item_class(item)))
                if items.get(item.id) is None:
                    items[item.id] = b
            elif isinstance(event, WorkCompleted):
                a, b, c, d = event.item_id, event.associate_id, "", ""
            elif isinstance(event, WorkCancelled):
                current = _stored(keys, event.item_id, items)
                # An unknown id still goes to the script: it tells a duplicate event
                # (counted) from a cancel of nothing (dead-lettered).
                queue = keys.queue(item_class(current)) if current else _no_queue(keys)
                a, b, c, d = event.item_id, "", "", queue_at(queue)
                items[event.item_id] = None
            elif isinstance(event, WorkUpdated):
                a, b, c, d = self._update_slots(keys, event, items, queue_at)
            else:
                raise BadInputError(f"event type {event.type} does not apply to a store")
        except BadInputError as exc:
            return _bad(entry_id, str(exc))
        return entry_id, event.type, event.id, a, b, c, d

    def _update_slots(
        self,
        keys: WorkKeys,
        event: WorkUpdated,
        items: dict[str, str | None],
        queue_at: Callable[[str], str],
    ) -> tuple[str, str, str, str]:
        old_json = items.get(event.item_id)
        current = _stored(keys, event.item_id, items)
        if old_json is None or current is None:  # the script answers: duplicate or unknown
            return event.item_id, "", "", f"{queue_at(_no_queue(keys))} 0"
        try:
            changed = WorkItem.model_validate({**current.model_dump(), **event.changes()})
        except pydantic.ValidationError as exc:
            raise BadInputError(f"work item {event.item_id!r}: {exc.errors()[0]['msg']}") from exc
        score = repr(float(start_by(changed, changed.created_at, self.work.policy)))
        new_json = changed.model_dump_json()
        items[event.item_id] = new_json
        return (
            event.item_id,
            old_json,
            new_json,
            f"{queue_at(keys.queue(item_class(changed)))} {score}",
        )


def _no_queue(keys: WorkKeys) -> str:
    """A queue key no item is in: what cancel and update are given for an unknown item."""
    return keys.partition.key("work:q|none")


def _stored(keys: WorkKeys, item_id: str, items: dict[str, str | None]) -> WorkItem | None:
    raw = items.get(item_id)
    if raw is None:
        return None
    try:
        return WorkItem.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        raise StoreError(f"store {keys.store!r}: stored item {item_id!r} is invalid") from exc


def _bad(entry_id: str, reason: str) -> tuple[str, ...]:
    return entry_id, "bad", "", reason, "", "", ""
