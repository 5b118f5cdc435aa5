"""A store's batch of work events, its new items gathered and written together, ends as
if each event were applied alone (real Redis)."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from jarvis.errors import StoreError
from jarvis.models.events import WorkUpdated
from jarvis.models.work import Associate, WorkItem
from jarvis.store.keys import PartitionKeys
from jarvis.store.producer import Producer
from jarvis.store.replies import stream_entries
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue
from jarvis.store.work.rules import item_class, start_by
from tests.store.builders import dump, event

STORE = "s1"
NOW = 1_700_000_000.0


def _events() -> list[Any]:
    def submit(event_id: str, item_id: str, role: str, priority: int = 0) -> Any:
        item = WorkItem(id=item_id, store=STORE, role=role, priority=priority)
        return event(STORE, "work_submitted", event_id, item=item)

    return [
        submit("ws-1", "w1", "picker", 3),
        submit("ws-2", "w2", "packer"),
        submit("ws-3", "w3", "picker", 9),
        submit("ws-9", "w1", "picker", 3),  # the same item again: a replay, applied
        submit("ws-2", "w2", "packer"),  # the same event: a duplicate
        event(STORE, "work_cancelled", "cx-1", item_id="w3"),
        submit("ws-4", "w3", "picker", 1),  # cancelled (so done): not queued again
        event(STORE, "work_updated", "up-1", item_id="w1", priority=50),
        event(STORE, "work_cancelled", "cx-2", item_id="w99"),  # unknown: dead-lettered
        submit("ws-5", "w4", "packer", 7),
        submit("ws-6", "w5", "picker", 2),
        event(STORE, "work_updated", "up-2", item_id="w5", priority=60),
        submit("ws-7", "w6", "stocker"),
    ]


def _state(rds: redis.Redis, namespace: str) -> dict[str, Any]:
    """Every key but the streams, the cursor and the applied ids (stream ids and times
    differ), hashes as sorted pairs, the namespace taken out of keys and values, with
    the applied ids' members and the dead letters' reasons in their stead."""
    keys = PartitionKeys(STORE, namespace)
    skip = (keys.events_in, keys.dead_letter, keys.applied_events, keys.cursor)
    # hashes as sorted pairs: the order of a hash's fields is no part of its content
    out: dict[str, Any] = {
        key[len(namespace) :]: repr(
            sorted(value.items()) if isinstance(value, dict) else value
        ).replace(namespace, "NS")
        for key, value in dump(rds, namespace).items()
        if key not in skip
    }
    out["applied"] = sorted(rds.zrange(keys.applied_events, 0, -1))
    dead = stream_entries(rds.xrange(keys.dead_letter))
    out["dead"] = [fields["reason"] for _, fields in dead]
    return out


def test_a_batch_of_work_events_ends_as_if_applied_one_by_one(
    rds: redis.Redis, namespace: str
) -> None:
    alone, batched = namespace, f"{namespace}-b"
    events = _events()
    for ns in (alone, batched):
        Producer(rds, ns).submit_many(events)
    one_by_one = WorkEvents(WorkQueue(rds, alone, clock=lambda: NOW))
    for _ in events:
        one_by_one.apply(STORE, 1, max_events=1)
    whole = WorkEvents(WorkQueue(rds, batched, clock=lambda: NOW)).apply(STORE, 1)
    assert (whole.applied, whole.duplicates, whole.dead_lettered) == (11, 1, 1)
    state = _state(rds, batched)
    assert state == _state(rds, alone)
    assert state["dead"] == ["no work item w99 to cancel (never submitted, or done)"]
    counts = WorkQueue(rds, batched, clock=lambda: NOW).counts(STORE)
    assert (counts["queued"], counts["submitted"], counts["cancelled"]) == (5, 6, 1)


def test_new_items_before_a_failure_part_way_are_written_and_recorded(
    rds: redis.Redis, namespace: str
) -> None:
    work = WorkQueue(rds, namespace, clock=lambda: NOW)
    keys = WorkKeys(STORE, namespace)
    # corrupt state: the claims become a string, so completing an item fails in Redis
    # (at its first read: it writes nothing)
    rds.set(keys.claims, "not a hash")
    first = event(STORE, "work_submitted", item=WorkItem(id="w1", store=STORE, role="picker"))
    completed = event(STORE, "work_completed", item_id="w0", associate_id="a1")
    later = event(STORE, "work_submitted", item=WorkItem(id="w2", store=STORE, role="picker"))
    Producer(rds, namespace).submit_many([first, completed, later])
    with pytest.raises(StoreError, match="WRONGTYPE"):
        WorkEvents(work).apply(STORE, 1)
    applied = PartitionKeys(STORE, namespace).applied_events
    assert rds.zrange(applied, 0, -1) == [first.id]
    assert rds.hexists(keys.items, "w1")
    assert not rds.hexists(keys.items, "w2")

    # the entry before the failing one is done: counted, and the cursor moved past it
    assert rds.hget(PartitionKeys(STORE, namespace).stats, "applied") == "1"

    rds.delete(keys.claims)
    retry = WorkEvents(work).apply(STORE, 1)
    assert (retry.applied, retry.duplicates, retry.dead_lettered) == (1, 0, 1)
    assert work.counts(STORE)["queued"] == 2


def test_a_replayed_submission_does_not_hide_a_new_one_from_a_later_update(
    rds: redis.Redis, namespace: str
) -> None:
    """A producer's retry of a submission applied long ago (its item cancelled and gone
    from the done set since, its event id still remembered) is a duplicate: the batch
    follows the new submission of the same item after it, so the update after that
    applies to what the script holds."""
    work = WorkQueue(rds, namespace, clock=lambda: NOW)
    keys = WorkKeys(STORE, namespace)
    producer = Producer(rds, namespace)
    first = WorkItem(id="w1", store=STORE, role="picker", priority=1)
    replayed = event(STORE, "work_submitted", "ws-1", item=first)
    producer.submit_many([replayed, event(STORE, "work_cancelled", "cx-1", item_id="w1")])
    assert WorkEvents(work).apply(STORE, 1).applied == 2
    rds.zrem(keys.done, "w1")  # as the done retention forgets it
    rds.zrem(keys.cancelled, "w1")
    again = WorkItem(id="w1", store=STORE, role="picker", priority=5)
    producer.submit_many(
        [
            replayed,  # the producer's retry: a duplicate
            event(STORE, "work_submitted", "ws-2", item=again),
            event(STORE, "work_updated", "up-1", item_id="w1", priority=9),
        ]
    )
    result = WorkEvents(work).apply(STORE, 1)
    assert (result.applied, result.duplicates, result.dead_lettered) == (2, 1, 0)
    stored = rds.hget(keys.items, "w1")
    assert stored is not None
    assert WorkItem.model_validate_json(stored).priority == 9


def _changes_of_pending_items() -> list[Any]:
    """Updates and cancels of items the same batch submitted (kept among its pending new
    items), beside the same of items queued before it and the rarer paths."""

    def submit(event_id: str, item_id: str, role: str, priority: int = 0) -> Any:
        item = WorkItem(id=item_id, store=STORE, role=role, priority=priority)
        return event(STORE, "work_submitted", event_id, item=item)

    return [
        submit("ws-1", "w1", "picker", 3),
        submit("ws-2", "w2", "picker", 5),  # the picker queue's lowest score
        submit("ws-3", "w3", "packer"),
        event(STORE, "work_cancelled", "cx-1", item_id="w2"),  # pending, and the head
        event(STORE, "work_updated", "up-1", item_id="w1", priority=90),  # pending: new head
        event(STORE, "work_updated", "up-2", item_id="w1", due_at=NOW + 60),  # again
        event(STORE, "work_updated", "up-3", item_id="w0", priority=1),  # queued before
        event(STORE, "work_cancelled", "cx-2", item_id="old"),  # queued before
        submit("ws-4", "w2", "picker"),  # cancelled in this batch: not queued again
        submit("ws-5", "gone", "packer"),  # cancelled before, no longer done: queued
        event(STORE, "work_cancelled", "cx-3", item_id="gone"),  # already cancelled
        event(STORE, "work_completed", "wc-1", item_id="w3", associate_id="a1"),  # unclaimed
        submit("ws-6", "w4", "packer", 2),
        event(STORE, "work_cancelled", "cx-4", item_id="w4"),
        event(STORE, "work_updated", "up-4", item_id="w4", priority=4),  # cancelled: dead
        # a cancelled pending item is remembered as cancelled for the events after it
        event(STORE, "work_cancelled", "cx-5", item_id="w4"),  # cancelled already: applied
        event(STORE, "work_completed", "wc-2", item_id="w4", associate_id="a1"),  # dead
        submit("ws-7", "w5", "packer"),
        event(STORE, "work_cancelled", "cx-6", item_id="w5"),
        event(STORE, "work_completed", "wc-3", item_id="w5", associate_id="a1"),  # dead
    ]


def test_changes_of_items_the_batch_submitted_end_as_if_applied_one_by_one(
    rds: redis.Redis, namespace: str
) -> None:
    alone, batched = namespace, f"{namespace}-b"
    events = _changes_of_pending_items()
    for ns in (alone, batched):
        queue = WorkQueue(rds, ns, clock=lambda: NOW - 10)
        for item_id, role in (("w0", "picker"), ("old", "packer")):
            queue.enqueue(WorkItem(id=item_id, store=STORE, role=role, priority=20))
        # cancelled long enough ago that its id left the done set, not yet the cancelled
        rds.zadd(WorkKeys(STORE, ns).cancelled, {"gone": NOW - 5})
        Producer(rds, ns).submit_many(events)
    one_by_one = WorkEvents(WorkQueue(rds, alone, clock=lambda: NOW))
    for _ in events:
        one_by_one.apply(STORE, 1, max_events=1)
    whole = WorkEvents(WorkQueue(rds, batched, clock=lambda: NOW)).apply(STORE, 1)
    assert (whole.applied, whole.duplicates, whole.dead_lettered) == (16, 0, 4)
    state = _state(rds, batched)
    assert state == _state(rds, alone)
    assert state["dead"] == [
        "item w3 is not claimed",
        "no work item w4 to update (never submitted, done or cancelled)",
        "item w4 was cancelled",
        "item w5 was cancelled",
    ]
    queue = WorkQueue(rds, batched, clock=lambda: NOW)
    assert queue.counts(STORE)["queued"] == 4  # w0, w1, w3 and gone


def test_submitted_items_are_dated_by_the_owner_in_their_stored_json(
    rds: redis.Redis, namespace: str
) -> None:
    now = 1_700_000_000.123456789  # not a round number: it must read back exactly
    undated = WorkItem(id="w1", store=STORE, role="picker", priority=4)
    dated = WorkItem(id="w2", store=STORE, role="picker", created_at=1_600_000_000.5)
    events = [
        event(STORE, "work_submitted", item=undated),
        event(STORE, "work_submitted", item=dated),
        event(STORE, "work_submitted", item=WorkItem(id="w3", store=STORE, role="packer")),
        event(STORE, "work_updated", item_id="w3", priority=9),  # dated before the update
    ]
    Producer(rds, namespace).submit_many(events)
    work = WorkQueue(rds, namespace, clock=lambda: now)
    assert WorkEvents(work).apply(STORE, 1).applied == 4
    keys = WorkKeys(STORE, namespace)
    stored = {i: WorkItem.model_validate_json(j) for i, j in rds.hgetall(keys.items).items()}
    assert stored["w1"] == undated.model_copy(update={"created_at": now})
    assert stored["w2"] == dated
    assert stored["w3"].created_at == now
    assert stored["w3"].priority == 9
    queue = keys.queue(item_class(undated))
    assert rds.zscore(queue, "w1") == start_by(stored["w1"], now, work.policy)


def test_an_update_event_keeps_the_date_of_an_item_stored_before(
    rds: redis.Redis, namespace: str
) -> None:
    at_zero = WorkQueue(rds, namespace, clock=lambda: 0.0)
    at_zero.enqueue(WorkItem(id="w1", store=STORE, role="picker"))  # dated 0.0 itself
    Producer(rds, namespace).submit(event(STORE, "work_updated", item_id="w1", priority=7))
    work = WorkQueue(rds, namespace, clock=lambda: NOW)
    assert WorkEvents(work).apply(STORE, 1).applied == 1
    keys = WorkKeys(STORE, namespace)
    stored = WorkItem.model_validate_json(rds.hget(keys.items, "w1") or "")
    assert (stored.created_at, stored.priority) == (0.0, 7)
    queue = keys.queue(item_class(stored))
    assert rds.zscore(queue, "w1") == start_by(stored, 0.0, work.policy)


@pytest.mark.parametrize("name", ["priority", "due_at", "duration_s"])
def test_work_updated_fields_have_the_bounds_of_the_work_item_fields(name: str) -> None:
    # apply copies an update's fields into the item without validating them again
    assert WorkUpdated.model_fields[name].metadata == WorkItem.model_fields[name].metadata


def test_changes_of_items_queued_before_the_batch_end_as_if_applied_one_by_one(
    rds: redis.Redis, namespace: str
) -> None:
    """Cancels and updates of items queued (and one claimed) before the batch: the heads
    of the queues they change are fixed once per batch, and a cancelled queued item has
    no claim to delete."""
    alone, batched = namespace, f"{namespace}-b"
    events = [
        event(STORE, "work_cancelled", "cx-1", item_id="p1"),  # the picker queue's head
        event(STORE, "work_updated", "up-1", item_id="p3", priority=100),  # the new head
        event(STORE, "work_submitted", "ws-1", item=WorkItem(id="n1", store=STORE, role="picker")),
        event(STORE, "work_cancelled", "cx-2", item_id="p3"),  # the head again
        event(STORE, "work_updated", "up-2", item_id="p2", priority=0),  # down the queue
        event(STORE, "work_cancelled", "cx-3", item_id="k1"),  # the packer queue empties
        event(STORE, "work_cancelled", "cx-4", item_id="c1"),  # claimed
        event(STORE, "work_updated", "up-3", item_id="p4", priority=1),
        event(STORE, "work_cancelled", "cx-5", item_id="p4"),
    ]
    for ns in (alone, batched):
        queue = WorkQueue(rds, ns, clock=lambda: NOW - 10)
        queue.register_associate(Associate(id="a1", home_store=STORE, roles=frozenset({"x"})))
        queue.enqueue(WorkItem(id="c1", store=STORE, role="x"))
        assert queue.get_work("a1") is not None
        for item_id, role, priority in (
            ("p1", "picker", 90), ("p2", "picker", 50), ("p3", "picker", 10),
            ("p4", "picker", 20), ("k1", "packer", 5),
        ):  # fmt: skip
            queue.enqueue(WorkItem(id=item_id, store=STORE, role=role, priority=priority))
        Producer(rds, ns).submit_many(events)
    one_by_one = WorkEvents(WorkQueue(rds, alone, clock=lambda: NOW))
    for _ in events:
        one_by_one.apply(STORE, 1, max_events=1)
    whole = WorkEvents(WorkQueue(rds, batched, clock=lambda: NOW)).apply(STORE, 1)
    assert (whole.applied, whole.duplicates, whole.dead_lettered) == (9, 0, 0)
    state = _state(rds, batched)
    assert state == _state(rds, alone)
    keys = WorkKeys(STORE, batched)
    picker = keys.queue(item_class(WorkItem(id="p2", store=STORE, role="picker")))
    assert rds.zrange(picker, 0, -1) == ["p2", "n1"]  # p2 queued 10 s earlier
    assert rds.zrange(keys.heads, 0, -1, withscores=True) == [(picker, rds.zscore(picker, "p2"))]
