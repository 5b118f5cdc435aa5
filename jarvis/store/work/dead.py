"""A store's dead set: work items that used up their attempts, and what operators do
with them (list, retry, discard).

Each claim of an item counts one attempt. When a claim comes back (its lease lapsed and
the owner's reap took it back, or its holder released it) after the item has been
claimed ``max_attempts`` times (the item's own, else the store default of
:class:`~jarvis.store.work.queue.WorkQueue`), the item leaves the queue for the dead set
instead, with its history: who claimed it, when, and why each claim came back (see
``came_back`` in ``work_lib.lua``). Nobody gets it from get-work until an operator
retries it (back to the queue and place it came from, attempts from zero) or discards
it (gone; its id is remembered with the completed ones for the retention, so a replayed
submission is not queued again). Both are one atomic script and idempotent: doing it
twice finds nothing the second time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic
import redis

from jarvis.errors import NotFoundError, StoreError
from jarvis.models.work import WorkItem
from jarvis.store.replies import text
from jarvis.store.specs import WORK_DEAD_DISCARD, WORK_DEAD_RETRY
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.rules import check_id

if TYPE_CHECKING:
    from jarvis.store.work.queue import WorkQueue

__all__ = ["DeadItem", "dead_count", "dead_items", "discard", "retry"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeadItem:
    """An item in the dead set: the item, its claims so far (``attempts``), when and why
    the last claim came back (``why``: ``lapsed`` or ``released``), and its history (each
    entry a dict: ``a`` associate, ``t`` claim token, ``c`` claimed at, ``r`` returned at,
    ``why``)."""

    item: WorkItem
    attempts: int
    died_at: float
    why: str
    history: tuple[dict[str, Any], ...]


def dead_count(work: WorkQueue, store: str) -> int:
    """How many items are in ``store``'s dead set."""
    keys = WorkKeys(store, work.namespace)
    try:
        return int(work.redis.zcard(keys.dead_at))
    except redis.RedisError as exc:
        raise StoreError(f"store {store!r}: reading the dead set failed: {exc}") from exc


def dead_items(work: WorkQueue, store: str, limit: int = 100) -> list[DeadItem]:
    """The first ``limit`` items of ``store``'s dead set, oldest death first."""
    keys = WorkKeys(store, work.namespace)
    if limit < 1:
        return []
    try:
        ids = [text(i) for i in work.redis.zrange(keys.dead_at, 0, limit - 1)]
        if not ids:
            return []
        pipe = work.redis.pipeline(transaction=True)
        pipe.hmget(keys.dead, ids)
        pipe.hmget(keys.items, ids)
        pipe.hmget(keys.history, ids)
        records, items, histories = pipe.execute()
    except redis.RedisError as exc:
        raise StoreError(f"store {store!r}: reading the dead set failed: {exc}") from exc
    found = []
    for item_id, record, raw_item, history in zip(ids, records, items, histories, strict=True):
        if record is None or raw_item is None:
            continue  # retried or discarded between the two reads
        found.append(_dead_item(store, item_id, record, raw_item, history))
    return found


def _dead_item(store: str, item_id: str, record: Any, raw_item: Any, history: Any) -> DeadItem:
    try:
        dead = json.loads(text(record))
        entries = json.loads(text(history)) if history is not None else []
        return DeadItem(
            item=WorkItem.model_validate_json(text(raw_item)),
            attempts=int(dead["n"]),
            died_at=float(dead["at"]),
            why=str(dead["why"]),
            history=tuple(dict(e) for e in entries),
        )
    except (ValueError, KeyError, TypeError, pydantic.ValidationError) as exc:
        raise StoreError(f"store {store!r}: dead item {item_id!r} is invalid") from exc


def _dead_queue(work: WorkQueue, store: str, item_id: str) -> str:
    keys = WorkKeys(store, work.namespace)
    try:
        record = work.redis.hget(keys.dead, item_id)
    except redis.RedisError as exc:
        raise StoreError(f"store {store!r}: reading the dead set failed: {exc}") from exc
    if record is None:
        raise NotFoundError(f"store {store!r}: item {item_id!r} is not in the dead set")
    try:
        queue = str(json.loads(text(record))["q"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"store {store!r}: dead item {item_id!r} is invalid") from exc
    if not queue.startswith(keys.partition.key("work:q|")):
        raise StoreError(f"store {store!r}: dead item {item_id!r} names queue {queue!r}")
    return queue


def retry(work: WorkQueue, store: str, item_id: str) -> None:
    """Put a dead item back in its queue at its old place, attempts from zero.

    NotFoundError if it is not in the dead set (never was, or already retried).
    """
    check_id(item_id, "work item")
    keys = WorkKeys(store, work.namespace)
    queue = _dead_queue(work, store, item_id)
    done = work.scripts.run(
        WORK_DEAD_RETRY,
        store,
        {"dead": keys.dead, "dead_at": keys.dead_at, "attempts": keys.attempts,
         "history": keys.history, "heads": keys.heads, "queue": queue,
         "work_stats": keys.stats},
        {"item": item_id, "now": float(work.clock())},
    )  # fmt: skip
    if not int(done):
        raise NotFoundError(f"store {store!r}: item {item_id!r} is not in the dead set")
    log.info("store %s: dead item %s retried", store, item_id)


def discard(work: WorkQueue, store: str, item_id: str) -> None:
    """Drop a dead item for good. NotFoundError if it is not in the dead set."""
    check_id(item_id, "work item")
    keys = WorkKeys(store, work.namespace)
    done = work.scripts.run(
        WORK_DEAD_DISCARD,
        store,
        {"items": keys.items, "dead": keys.dead, "dead_at": keys.dead_at,
         "attempts": keys.attempts, "history": keys.history, "done": keys.done,
         "work_stats": keys.stats},
        {"item": item_id, "now": float(work.clock())},
    )  # fmt: skip
    if not int(done):
        raise NotFoundError(f"store {store!r}: item {item_id!r} is not in the dead set")
    log.info("store %s: dead item %s discarded", store, item_id)
