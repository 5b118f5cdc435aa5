"""Cancel and update a store work item after it was submitted.

Both are one atomic script on the store's keys, from any member (like complete and
release), and idempotent:

- cancel (``work_cancel.lua``) takes the item out of wherever it is: its queue, its
  claim, or the dead set. The id is remembered for the done retention, so cancelling
  again answers "already cancelled", a replayed submission is not queued again, and
  the holder of a cancelled claim learns it on its next heartbeat, complete or release
  (:class:`~jarvis.errors.NotClaimedError` with code ``item_cancelled``, HTTP 409).
- update (``work_update.lua``) changes ``priority``, ``due_at`` or ``duration_s``: the
  item's JSON and its queue score (its start-by time, recomputed from the time it was
  queued), in place. A queued item moves in its queue; a claimed one keeps its claim
  and returns at its new place if the claim comes back. The script is a compare-and-set
  on the item's JSON, so two concurrent updates never lose one another's fields.

The fields that decide an item's class queue (role, licence, remotable, store) cannot
change: cancel it and submit a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pydantic

from jarvis.errors import BadInputError, NotFoundError, StoreError
from jarvis.models.work import WorkItem
from jarvis.store.replies import guarded, text
from jarvis.store.specs import WORK_CANCEL, WORK_UPDATE
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.rules import check_id, item_class, start_by

if TYPE_CHECKING:
    from jarvis.store.work.queue import WorkQueue

__all__ = ["UPDATABLE", "cancel", "update"]

log = logging.getLogger(__name__)

#: The fields an update may change.
UPDATABLE = frozenset({"priority", "due_at", "duration_s"})
#: Compare-and-set rounds before an update under constant concurrent change gives up.
_UPDATE_ROUNDS = 5
_WHERE = {1: "queued", 2: "claimed", 3: "dead"}


def _read(work: WorkQueue, keys: WorkKeys, item_id: str) -> tuple[str, WorkItem] | None:
    raw = guarded("read a work item", work.redis.hget)(keys.items, item_id)
    if raw is None:
        return None
    json = text(raw)
    try:
        return json, WorkItem.model_validate_json(json)
    except pydantic.ValidationError as exc:
        raise StoreError(f"store {keys.store!r}: stored item {item_id!r} is invalid") from exc


def cancel(work: WorkQueue, store: str, item_id: str) -> bool:
    """Cancel ``item_id``; False if it was cancelled already (see the module docstring).
    NotFoundError if the store does not have it (never submitted, or done)."""
    check_id(item_id, "work item")
    keys = WorkKeys(store, work.namespace)
    found = _read(work, keys, item_id)
    # An id no longer in items may still be a cancelled one: the script tells.
    queue = keys.queue(item_class(found[1])) if found else keys.partition.key("work:q|none")
    now = work.clock()
    done = int(
        work.scripts.run(
            WORK_CANCEL,
            store,
            {
                "items": keys.items,
                "claims": keys.claims,
                "leases": keys.leases,
                "heads": keys.heads,
                "queue": queue,
                "attempts": keys.attempts,
                "history": keys.history,
                "dead": keys.dead,
                "dead_at": keys.dead_at,
                "done": keys.done,
                "cancelled": keys.cancelled,
                "work_stats": keys.stats,
            },
            {
                "item": item_id,
                "now": float(now),
                "forget_before": float(now - work.done_retention_s),
            },
        )
    )
    if done == 0:
        raise NotFoundError(f"store {store!r}: no work item {item_id!r} (never, or done)")
    if done < 0:
        raise StoreError(f"store {store!r}: item {item_id!r} is not where its class says")
    if done == 1:
        log.info("store %s: work item %s cancelled", store, item_id)
    return done == 1


def update(work: WorkQueue, store: str, item_id: str, fields: Mapping[str, object]) -> str:
    """Change ``fields`` (a subset of :data:`UPDATABLE`) of ``item_id``; returns where
    the item is: ``queued``, ``claimed`` or ``dead``. BadInputError for another field or
    a bad value, NotFoundError if the store does not have it."""
    check_id(item_id, "work item")
    unknown = sorted(set(fields) - UPDATABLE)
    if unknown:
        raise BadInputError(
            f"work item fields {unknown} cannot be updated (only {sorted(UPDATABLE)})"
        )
    keys = WorkKeys(store, work.namespace)
    for _ in range(_UPDATE_ROUNDS):
        found = _read(work, keys, item_id)
        if found is None:
            raise NotFoundError(
                f"store {store!r}: no work item {item_id!r} (never, done or cancelled)"
            )
        old_json, item = found
        try:
            changed = WorkItem.model_validate({**item.model_dump(), **fields})
        except pydantic.ValidationError as exc:
            raise BadInputError(f"work item {item_id!r}: {exc.errors()[0]['msg']}") from exc
        score = start_by(changed, changed.created_at, work.policy)
        where = int(
            work.scripts.run(
                WORK_UPDATE,
                store,
                {
                    "items": keys.items,
                    "claims": keys.claims,
                    "heads": keys.heads,
                    "queue": keys.queue(item_class(changed)),
                    "dead": keys.dead,
                },
                {
                    "item": item_id,
                    "old_json": old_json,
                    "new_json": changed.model_dump_json(),
                    "score": float(score),
                },
            )
        )
        if where == 0:
            raise NotFoundError(
                f"store {store!r}: no work item {item_id!r} (never, done or cancelled)"
            )
        if where > 0:
            return _WHERE[where]
    raise StoreError(f"store {store!r}: item {item_id!r} kept changing while being updated")
