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
            items, applied_before = self._read_items(keys, [e for _, e in parsed])
        except redis.RedisError as exc:
            raise StoreError(f"store {store!r}: reading events failed: {exc}") from exc
        batch = _Batch(self, keys, items, applied_before)
        # one flat array of the entries' seven slots, entry after entry (work_apply.lua)
        slots = [slot for entry_id, event in parsed for slot in batch.slots(entry_id, event)]
        now, queues = batch.now, batch.queues
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
             "batch": orjson.dumps(slots).decode()},
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

    def _read_items(
        self, keys: WorkKeys, events: list[Event | str]
    ) -> tuple[dict[str, str | None], set[str]]:
        """The stored JSON (None: not there) of every item a cancel or update names, and
        which of the ids of the events that change items were applied before (in one
        round trip; nothing to read when no cancel or update needs the items)."""
        ids = sorted({e.item_id for e in events if isinstance(e, WorkCancelled | WorkUpdated)})
        if not ids:
            return {}, set()
        event_ids = sorted({e.id for e in events if isinstance(e, _FOLLOWED)})
        with self.work.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.items, ids)
            pipe.zmscore(keys.partition.applied_events, event_ids)
            raws, scores = pipe.execute()
        items = {i: None if r is None else text(r) for i, r in zip(ids, raws, strict=True)}
        return items, {e for e, score in zip(event_ids, scores, strict=True) if score is not None}


class _Batch:
    """One batch's script slots, built entry after entry: the queue keys it needs
    (``queues``: key -> its index in the script's KEYS) and the items it names, followed
    through the batch (``items``: id -> JSON or None; ``followed``: id -> the item as
    validated here, so that a later update need not parse its JSON again)."""

    def __init__(
        self,
        events: WorkEvents,
        keys: WorkKeys,
        items: dict[str, str | None],
        applied: set[str],
    ):
        self.keys = keys
        # Event ids the script will count as duplicates: applied before the batch (read
        # with the items), or earlier in it and expected to apply (a producer's retry).
        # Such an event changes no followed item: following it anyway made a later
        # update's JSON differ from what the script holds, and the script dead-lettered
        # an update the same events one by one apply (test_apply_properties).
        self.applied = applied
        self.rules = events.work.rules
        self.policy = events.work.policy
        self.now = float(events.work.clock())
        self.stamp = f'"created_at":{self.now!r},'
        self.queues: dict[str, int] = {}
        self.items = items
        self.followed: dict[str, WorkItem] = {}
        # ids whose followed item is dated in its JSON only (created_at 0.0 in the object)
        self.undated: set[str] = set()
        # (role, licence, remotable) -> its queue's index in KEYS, as text
        self._class_at: dict[tuple[str, str | None, bool], str] = {}

    def queue_at(self, queue: str) -> str:
        return str(self.queues.setdefault(queue, len(WORK_APPLY.keys) + len(self.queues) + 1))

    def class_at(self, item: WorkItem) -> str:
        """The index in KEYS of the queue of ``item``'s class."""
        cls = (item.role, item.licence, item.remotable)
        at = self._class_at.get(cls)
        if at is None:
            at = self._class_at[cls] = self.queue_at(self.keys.queue(item_class(item)))
        return at

    def slots(self, entry_id: str, event: Event | str) -> tuple[str, ...]:
        """The script slots of one entry, (stream id, type, event id, a, b, c, d)."""
        if isinstance(event, str):
            return _bad(entry_id, event)
        # a repeated id's slots are still built from the items as followed: the script
        # applies it after all if its first occurrence was dead-lettered after all
        follow = event.id not in self.applied
        try:
            if isinstance(event, WorkSubmitted):
                a, b, c, d = self._submitted(event.item, follow)
            elif isinstance(event, WorkCompleted):
                a, b, c, d = event.item_id, event.associate_id, "", ""
            elif isinstance(event, WorkCancelled):
                current = self._stored(event.item_id, dated=False)
                # An unknown id still goes to the script: it tells a duplicate event
                # (counted) from a cancel of nothing (dead-lettered).
                d = self.class_at(current) if current else self.queue_at(_no_queue(self.keys))
                a, b, c = event.item_id, "", ""
                if follow:
                    self.items[event.item_id] = None
            elif isinstance(event, WorkUpdated):
                a, b, c, d = self._updated(event, follow)
            else:
                raise BadInputError(f"event type {event.type} does not apply to a store")
        except BadInputError as exc:
            return _bad(entry_id, str(exc))
        # expected to apply: a submission or cancel always changes the items as followed
        # here (an unapplied one leaves an item the script has not, which every later
        # event of it finds gone either way); an update when its item was there (b)
        if follow and isinstance(event, _FOLLOWED) and (b or not isinstance(event, WorkUpdated)):
            self.applied.add(event.id)
        return entry_id, event.type, event.id, a, b, c, d

    def _submitted(self, item: WorkItem, follow: bool = True) -> tuple[str, str, str, str]:
        if item.store != self.keys.store:
            raise BadInputError(f"work item of store {item.store!r} sent to {self.keys.store!r}")
        self.rules.check(item)
        json = _to_json(item).decode()
        if item.created_at == 0.0:
            # dated now: written into its JSON (``created_at`` is never the last field
            # and no id holds a quote), rather than a model_copy per item
            dated = json.replace('"created_at":0.0,', self.stamp, 1)
            if dated == json:  # the serializer wrote it otherwise: copy after all
                item = item.model_copy(update={"created_at": self.now})
                dated = _to_json(item).decode()
            json = dated
        if follow and self.items.get(item.id) is None:
            self.items[item.id] = json
            self.followed[item.id] = item
            if item.created_at == 0.0:
                self.undated.add(item.id)
        score = repr(float(start_by(item, self.now, self.policy)))
        return item.id, json, score, self.class_at(item)

    def _stored(self, item_id: str, dated: bool = True) -> WorkItem | None:
        """The item the batch has so far at ``item_id`` (None: not there); with
        ``dated=False`` possibly without the created_at its JSON has."""
        raw = self.items.get(item_id)
        if raw is None:
            return None
        item = self.followed.get(item_id)
        if item is None:
            try:
                item = WorkItem.model_validate_json(raw)
            except pydantic.ValidationError as exc:
                raise StoreError(
                    f"store {self.keys.store!r}: stored item {item_id!r} is invalid"
                ) from exc
        elif dated and item_id in self.undated:
            item = item.model_copy(update={"created_at": self.now})
        return item

    def _updated(self, event: WorkUpdated, follow: bool = True) -> tuple[str, str, str, str]:
        old_json = self.items.get(event.item_id)
        current = self._stored(event.item_id, dated=False)
        if old_json is None or current is None:  # the script answers: duplicate or unknown
            return event.item_id, "", "", f"{self.queue_at(_no_queue(self.keys))} 0"
        # the event's fields have the item's own bounds (WorkUpdated checked them)
        changes: dict[str, float] = {**event.changes()}
        if event.item_id in self.undated:
            changes["created_at"] = self.now
            if follow:
                self.undated.discard(event.item_id)
        changed = current.model_copy(update=changes)
        score = repr(float(start_by(changed, changed.created_at, self.policy)))
        new_json = _to_json(changed).decode()
        if follow:
            self.items[event.item_id] = new_json
            self.followed[event.item_id] = changed
        return event.item_id, old_json, new_json, f"{self.class_at(changed)} {score}"


#: The events that change the items a batch follows.
_FOLLOWED = (WorkSubmitted, WorkUpdated, WorkCancelled)

#: WorkItem's JSON serializer itself (model_dump_json only checks its keywords and calls it)
_to_json = WorkItem.__pydantic_serializer__.to_json


def _no_queue(keys: WorkKeys) -> str:
    """A queue key no item is in: what cancel and update are given for an unknown item."""
    return keys.partition.key("work:q|none")


def _bad(entry_id: str, reason: str) -> tuple[str, ...]:
    return entry_id, "bad", "", reason, "", "", ""
