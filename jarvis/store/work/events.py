"""A store's incoming events (``work_submitted``, ``work_completed``, ``work_cancelled``,
``work_updated``), applied by its owner in fenced script calls (``work_apply.lua``) of
up to ``chain_size`` entries each, pipelined on one connection, as cities apply theirs.

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
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pydantic
import redis
from hiredis import pack_command
from redis.connection import Connection

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
from jarvis.store.collector import pausing_collector
from jarvis.store.exchange import exchange
from jarvis.store.incoming import read_incoming
from jarvis.store.replication import Command, node_for
from jarvis.store.replies import text
from jarvis.store.runner import check_epoch
from jarvis.store.specs import WORK_APPLY, Arg
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue
from jarvis.store.work.rules import item_class, start_by

__all__ = ["WorkEvents"]

log = logging.getLogger(__name__)

#: Entries per script call of one apply: the calls of a long batch go pipelined on one
#: connection (:meth:`ScriptRunner.run_chain`), Redis running one while this process
#: validates the entries of the next.
CHAIN_SIZE = 500


class WorkEvents:
    """The event side of the stores served by ``work`` (its Redis, namespace, clock,
    enqueue rules and scripts)."""

    def __init__(
        self,
        work: WorkQueue,
        *,
        horizon_s: float = DEFAULT_HORIZON_S,
        dead_maxlen: int = DEFAULT_DEAD_MAXLEN,
        chain_size: int = CHAIN_SIZE,
    ) -> None:
        if not horizon_s > 0 or not math.isfinite(horizon_s):
            raise BadInputError(f"horizon_s must be a positive number, got {horizon_s!r}")
        if chain_size < 1:
            raise BadInputError(f"chain_size must be at least 1, got {chain_size!r}")
        self.work = work
        self.horizon_ms = int(horizon_s * 1000)
        self.dead_maxlen = dead_maxlen
        self.chain_size = chain_size

    @pausing_collector  # the batch's objects are freed when it is sent (collector.py)
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
            parsed = _parsed(store, entries)
            items, applied_before = self._read_items(keys, parsed)
        except redis.RedisError as exc:
            raise StoreError(f"store {store!r}: reading events failed: {exc}") from exc
        batch = _Batch(self, keys, items, applied_before)
        last = entries[-1][0] if entries else cursor
        key_map = {
            "epoch": part.epoch, "stats": part.stats, "cursor": part.cursor,
            "applied": part.applied_events, "in": part.events_in, "dead": part.dead_letter,
            "items": keys.items, "done": keys.done, "heads": keys.heads,
            "claims": keys.claims, "leases": keys.leases, "work_stats": keys.stats,
            "attempts": keys.attempts, "history": keys.history, "cancelled": keys.cancelled,
            "dead_set": keys.dead, "dead_at": keys.dead_at, "completions": keys.completions,
        }  # fmt: skip

        def calls() -> Iterator[tuple[dict[str, Arg], list[str]]]:
            """One script call per ``chain_size`` entries, each built when the one before
            it was sent: the cursor moves from one to the next by compare-and-set, so a
            call runs only if the one before it did."""
            after = cursor
            for first in range(0, max(len(parsed), 1), self.chain_size):
                chunk = parsed[first : first + self.chain_size]
                # one flat array of the entries' seven slots, entry after entry
                slots = [slot for entry_id, event in chunk for slot in batch.slots(entry_id, event)]
                upto = chunk[-1][0] if chunk else cursor
                yield (
                    {"cursor": after, "last": upto, "horizon_ms": self.horizon_ms,
                     "dead_maxlen": self.dead_maxlen, "partition": store, "now": float(batch.now),
                     "forget_before": float(batch.now - self.work.done_retention_s),
                     "batch": orjson.dumps(slots).decode()},
                    list(batch.queues),
                )  # fmt: skip
                after = upto

        replies = self.work.scripts.run_chain(WORK_APPLY, store, key_map, calls(), epoch=epoch)
        applied, duplicates, dead = (sum(int(reply[i]) for reply in replies) for i in range(3))
        if dead:
            log.warning("store %s: %d event(s) dead-lettered", store, dead)
        return ApplyResult(int(applied), int(duplicates), int(dead), last)

    def _read_items(
        self, keys: WorkKeys, parsed: list[tuple[str, Event | str]]
    ) -> tuple[dict[str, str | None], set[str]]:
        """The stored JSON (None: not there) of every item a cancel or update names, and
        which of the ids of the events that change those items were applied before (in
        one round trip; nothing to read when no cancel or update needs the items).

        Only the events that change a named item can change what the batch follows (see
        :class:`_Batch`): whether the others were applied before does not matter here
        (the script tells duplicates itself), so their ids are not read.
        """
        # by the exact class (parse_event makes no other): isinstance goes through
        # pydantic's metaclass, a quarter of a microsecond a call
        named = {e.item_id for _, e in parsed if type(e) is WorkCancelled or type(e) is WorkUpdated}
        if not named:
            return {}, set()
        event_ids: set[str] = set()
        for _, e in parsed:
            if type(e) is WorkSubmitted:
                if e.item.id in named:
                    event_ids.add(e.id)
            elif type(e) is WorkCancelled or type(e) is WorkUpdated:
                event_ids.add(e.id)
        ids = list(named)
        ordered = list(event_ids)
        read_json: Command = ("HMGET", keys.items, *ids)
        read_scores: Command = ("ZMSCORE", keys.partition.applied_events, *ordered)
        packed = pack_command(read_json) + pack_command(read_scores)
        raws, scores = exchange(node_for(self.work.redis, keys.items), packed, 2, _undecoded)
        items = {i: None if r is None else text(r) for i, r in zip(ids, raws, strict=True)}
        return items, {e for e, score in zip(ordered, scores, strict=True) if score is not None}


def _parsed(store: str, entries: list[tuple[str, bytes | None]]) -> list[tuple[str, Event | str]]:
    """Each entry's event, or the reason it is bad (entries: stream id, event field)."""
    parsed: list[tuple[str, Event | str]] = []
    append = parsed.append
    for entry_id, raw in entries:
        if raw is None:
            append((entry_id, f"entry has no {EVENT_FIELD!r} field"))
            continue
        try:
            event = parse_event(raw)
        except BadInputError as exc:
            append((entry_id, str(exc)))
            continue
        if event.partition != store:
            append((entry_id, f"event for partition {event.partition!r} sent to {store!r}"))
        else:
            append((entry_id, event))
    return parsed


def _undecoded(conn: Connection, count: int) -> list[Any]:
    """The next ``count`` replies as Redis sent them (no decoding, no callbacks): an item's
    JSON as bytes, a score as bytes or None. An error reply raises (``exchange`` then
    disconnects the connection)."""
    return [conn.read_response(disable_decoding=True) for _ in range(count)]


class _Batch:
    """One batch's script slots, built entry after entry: the queue keys it needs
    (``queues``: key -> its index in the script's KEYS) and the items it names, followed
    through the batch (``items``: id -> JSON or None; ``followed``: id -> the item as
    validated here, so that a later update need not parse its JSON again).

    Only the items named when the batch began (the keys of ``items``: those a cancel or
    update of the batch names) are followed: no other id is ever looked up in ``items``,
    so following it would change no slot."""

    def __init__(
        self,
        events: WorkEvents,
        keys: WorkKeys,
        items: dict[str, str | None],
        applied: set[str],
    ):
        self.keys = keys
        self.store = keys.store
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
        self.named = frozenset(items)
        self.followed: dict[str, WorkItem] = {}
        # ids whose followed item is dated in its JSON only (created_at 0.0 in the object)
        self.undated: set[str] = set()
        # (role, licence, remotable) -> its queue's index in KEYS, as text
        self._class_at: dict[tuple[str, str | None, bool], str] = {}
        # the same, for the classes whose items the rules accept (checked once a class)
        self._accepted: dict[tuple[str, str | None, bool], str] = {}
        # a new item's queue score, by what start_by reads of it: (due_at, duration_s,
        # priority); every new item of the batch is enqueued at `now`
        self._scores: dict[tuple[float | None, float, int], str] = {}

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
        build = _BUILDERS.get(type(event))
        if build is None:
            return _bad(entry_id, f"event type {event.type} does not apply to a store")
        try:
            return build(self, entry_id, event)
        except BadInputError as exc:
            return _bad(entry_id, str(exc))

    # Each builder returns an entry's slots, or raises BadInputError (dead-lettered). An
    # event expected to apply joins `applied`: a submission or cancel always changes the
    # items as followed here (an unapplied one leaves an item the script has not, which
    # every later event of it finds gone either way); an update when its item was there.
    # A repeated id's slots are still built from the items as followed: the script
    # applies it after all if its first occurrence was dead-lettered after all.

    def _submitted(self, entry_id: str, event: WorkSubmitted) -> tuple[str, ...]:
        item = event.item
        if item.store != self.store:
            raise BadInputError(f"work item of store {item.store!r} sent to {self.store!r}")
        cls = (item.role, item.licence, item.remotable)
        at = self._accepted.get(cls)
        if at is None:
            self.rules.check(item)  # the rules read only the class (and the id, to say so)
            at = self._accepted[cls] = self.class_at(item)
        json = _to_json(item).decode()
        if item.created_at == 0.0:
            # dated now: written into its JSON (``created_at`` is never the last field
            # and no id holds a quote), rather than a model_copy per item
            dated = json.replace('"created_at":0.0,', self.stamp, 1)
            if dated == json:  # the serializer wrote it otherwise: copy after all
                item = item.model_copy(update={"created_at": self.now})
                dated = _to_json(item).decode()
            json = dated
        event_id, item_id = event.id, item.id
        if event_id not in self.applied:
            self.applied.add(event_id)
            if item_id in self.named and self.items.get(item_id) is None:
                self.items[item_id] = json
                self.followed[item_id] = item
                if item.created_at == 0.0:
                    self.undated.add(item_id)
        by = (item.due_at, item.duration_s, item.priority)
        score = self._scores.get(by)
        if score is None:
            score = self._scores[by] = repr(float(start_by(item, self.now, self.policy)))
        return entry_id, "work_submitted", event_id, item_id, json, score, at

    def _completed(self, entry_id: str, event: WorkCompleted) -> tuple[str, ...]:
        return entry_id, "work_completed", event.id, event.item_id, event.associate_id, "", ""

    def _cancelled(self, entry_id: str, event: WorkCancelled) -> tuple[str, ...]:
        item_id = event.item_id
        current = self._stored(item_id, dated=False)
        # An unknown id still goes to the script: it tells a duplicate event (counted)
        # from a cancel of nothing (dead-lettered).
        at = self.class_at(current) if current else self.queue_at(_no_queue(self.keys))
        if event.id not in self.applied:
            self.items[item_id] = None
            self.applied.add(event.id)
        return entry_id, "work_cancelled", event.id, item_id, "", "", at

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

    def _updated(self, entry_id: str, event: WorkUpdated) -> tuple[str, ...]:
        item_id = event.item_id
        follow = event.id not in self.applied
        old_json = self.items.get(item_id)
        current = self._stored(item_id, dated=False)
        if old_json is None or current is None:  # the script answers: duplicate or unknown
            where = f"{self.queue_at(_no_queue(self.keys))} 0"
            return entry_id, "work_updated", event.id, item_id, "", "", where
        # the event's fields have the item's own bounds (WorkUpdated checked them)
        changes: dict[str, float] = {**event.changes()}
        if item_id in self.undated:
            changes["created_at"] = self.now
            if follow:
                self.undated.discard(item_id)
        changed = current.model_copy(update=changes)
        score = repr(float(start_by(changed, changed.created_at, self.policy)))
        new_json = _to_json(changed).decode()
        if follow:
            self.items[item_id] = new_json
            self.followed[item_id] = changed
            self.applied.add(event.id)
        where = f"{self.class_at(changed)} {score}"
        return entry_id, "work_updated", event.id, item_id, old_json, new_json, where


#: An entry's slots by the class of its event (parse_event makes exactly these classes).
_BUILDERS: dict[type, Callable[[_Batch, str, Any], tuple[str, ...]]] = {
    WorkSubmitted: _Batch._submitted,
    WorkCompleted: _Batch._completed,
    WorkCancelled: _Batch._cancelled,
    WorkUpdated: _Batch._updated,
}


#: WorkItem's JSON serializer itself (model_dump_json only checks its keywords and calls it)
_to_json = WorkItem.__pydantic_serializer__.to_json


def _no_queue(keys: WorkKeys) -> str:
    """A queue key no item is in: what cancel and update are given for an unknown item."""
    return keys.partition.key("work:q|none")


def _bad(entry_id: str, reason: str) -> tuple[str, ...]:
    return entry_id, "bad", "", reason, "", "", ""
