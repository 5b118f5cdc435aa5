"""``work_cancelled`` and ``work_updated`` events, applied by the store owner through
``work_apply.lua`` against a real Redis: the semantics of DELETE and PATCH over HTTP,
fenced, idempotent by event id, and dead-lettered with a reason when they cannot apply."""

from __future__ import annotations

import pytest
import redis

from jarvis.errors import BadInputError, FencedError, NotClaimedError
from jarvis.models.events import WorkUpdated
from jarvis.models.work import Associate, WorkItem
from jarvis.store.keys import PartitionKeys
from jarvis.store.producer import Producer
from jarvis.store.replies import stream_entries
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue
from tests.store.builders import event

STORE = "s1"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wq(rds: redis.Redis, namespace: str) -> WorkQueue:
    work = WorkQueue(rds, namespace, clock=Clock(T0), claim_ttl=60)
    work.register_associate(Associate(id="ann", home_store=STORE, roles=frozenset({"picker"})))
    return work


def _item(item_id: str, **extra: object) -> WorkItem:
    return WorkItem.model_validate({"id": item_id, "store": STORE, "role": "picker", **extra})


def _order(wq: WorkQueue) -> list[str]:
    return [q.item.id for q in wq.queue(STORE)]


def _reasons(rds: redis.Redis, namespace: str) -> list[str]:
    entries = rds.xrange(PartitionKeys(STORE, namespace).dead_letter)
    return [fields["reason"] for _, fields in stream_entries(entries)]


def _submit(rds: redis.Redis, namespace: str, *events: object) -> None:
    Producer(rds, namespace).submit_many(list(events))  # type: ignore[arg-type]


def test_work_updated_reorders_a_queued_item_in_place(
    rds: redis.Redis, namespace: str, wq: WorkQueue
) -> None:
    wq.enqueue_many([_item("w1", due_at=T0 + 600), _item("w2", due_at=T0 + 1200)])
    assert _order(wq) == ["w1", "w2"]
    _submit(rds, namespace, event(STORE, "work_updated", item_id="w2", priority=90))

    result = WorkEvents(wq).apply(STORE, epoch=1)

    assert (result.applied, result.dead_lettered) == (1, 0)
    assert _order(wq) == ["w2", "w1"]
    assert wq.queue(STORE)[0].item.priority == 90
    claim = wq.get_work("ann")
    assert claim is not None
    assert claim.item.id == "w2"


def test_work_cancelled_takes_a_queued_item_out_and_a_replay_counts_as_duplicate(
    rds: redis.Redis, namespace: str, wq: WorkQueue
) -> None:
    wq.enqueue_many([_item("w1"), _item("w2", due_at=T0 + 7200)])
    cancel = event(STORE, "work_cancelled", "cancel-w1", item_id="w1")
    _submit(rds, namespace, cancel, cancel)

    result = WorkEvents(wq).apply(STORE, epoch=1)

    assert (result.applied, result.duplicates, result.dead_lettered) == (1, 1, 0)
    assert _order(wq) == ["w2"]
    counts = wq.counts(STORE)
    assert (counts["cancelled"], counts["queued"]) == (1, 1)
    assert wq.enqueue(_item("w1")) is False  # a replayed submission is not queued again


def test_the_holder_of_a_claim_cancelled_by_an_event_learns_it_with_its_code(
    rds: redis.Redis, namespace: str, wq: WorkQueue
) -> None:
    wq.enqueue(_item("w1"))
    claim = wq.get_work("ann")
    assert claim is not None
    _submit(rds, namespace, event(STORE, "work_cancelled", item_id="w1"))

    assert WorkEvents(wq).apply(STORE, epoch=1).applied == 1

    with pytest.raises(NotClaimedError) as heartbeat:
        wq.heartbeat(STORE, "w1", "ann", claim.token)
    assert heartbeat.value.code == "item_cancelled"
    with pytest.raises(NotClaimedError) as complete:
        wq.complete(STORE, "w1", "ann", claim.token)
    assert complete.value.code == "item_cancelled"
    assert wq.counts(STORE)["claimed"] == 0


def test_a_claimed_item_updated_by_an_event_returns_at_its_new_place(
    rds: redis.Redis, namespace: str, wq: WorkQueue
) -> None:
    wq.enqueue_many([_item("w1", due_at=T0 + 600), _item("w2", due_at=T0 + 1200)])
    claim = wq.get_work("ann")
    assert claim is not None
    assert claim.item.id == "w1"
    _submit(rds, namespace, event(STORE, "work_updated", item_id="w1", due_at=T0 + 3600))

    assert WorkEvents(wq).apply(STORE, epoch=1).applied == 1
    assert wq.release(STORE, "w1", "ann", claim.token) is True

    assert _order(wq) == ["w2", "w1"]
    assert wq.queue(STORE)[1].item.due_at == T0 + 3600


def test_one_batch_may_submit_update_and_cancel_one_item_in_order(
    rds: redis.Redis, namespace: str, wq: WorkQueue
) -> None:
    _submit(
        rds,
        namespace,
        event(STORE, "work_submitted", item=_item("w1")),
        event(STORE, "work_updated", item_id="w1", priority=5),
        event(STORE, "work_updated", item_id="w1", duration_s=60.0),
        event(STORE, "work_submitted", item=_item("w2")),
        event(STORE, "work_cancelled", item_id="w2"),
        event(STORE, "work_updated", item_id="w2", priority=1),
    )

    result = WorkEvents(wq).apply(STORE, epoch=1)

    assert (result.applied, result.dead_lettered) == (5, 1)
    [queued] = wq.queue(STORE)
    assert (queued.item.id, queued.item.priority, queued.item.duration_s) == ("w1", 5, 60.0)
    assert _reasons(rds, namespace) == [
        "no work item w2 to update (never submitted, done or cancelled)"
    ]


def test_cancel_or_update_of_an_unknown_item_is_dead_lettered_with_its_reason(
    rds: redis.Redis, namespace: str, wq: WorkQueue
) -> None:
    _submit(
        rds,
        namespace,
        event(STORE, "work_cancelled", item_id="nope"),
        event(STORE, "work_updated", item_id="nope", priority=3),
    )
    # Producers writing the stream directly (not through Producer) with bad events.
    keys = PartitionKeys(STORE, namespace)
    elsewhere = event("other", "work_cancelled", item_id="w1").model_dump_json()
    empty = '{"id": "e-x", "partition": "s1", "at": 1, "type": "work_updated", "item_id": "w1"}'
    for raw in (elsewhere, empty):
        rds.xadd(keys.events_in, {"event": raw})

    result = WorkEvents(wq).apply(STORE, epoch=1)

    assert (result.applied, result.dead_lettered) == (0, 4)
    reasons = _reasons(rds, namespace)
    assert reasons[:3] == [
        "no work item nope to cancel (never submitted, or done)",
        "no work item nope to update (never submitted, done or cancelled)",
        "event for partition 'other' sent to 's1'",
    ]
    assert "work_updated changes nothing" in reasons[3]


def test_an_update_racing_a_patch_is_dead_lettered_and_the_patch_kept(
    rds: redis.Redis, namespace: str, wq: WorkQueue
) -> None:
    wq.enqueue(_item("w1"))
    _submit(rds, namespace, event(STORE, "work_updated", item_id="w1", priority=7))
    other = WorkQueue(rds, namespace, clock=Clock(T0))
    patched: list[str] = []

    def clock() -> float:
        # The owner reads its clock after it has read the item: a PATCH from another
        # member lands right then.
        if not patched:
            patched.append(other.update(STORE, "w1", {"priority": 50}))
        return T0

    owner = WorkQueue(rds, namespace, clock=clock)
    result = WorkEvents(owner).apply(STORE, epoch=1)

    assert patched == ["queued"]
    assert (result.applied, result.dead_lettered) == (0, 1)
    assert wq.queue(STORE)[0].item.priority == 50
    assert _reasons(rds, namespace) == [
        "work item w1 changed while the update was applied: re-submit it"
    ]


def test_a_deposed_owner_applies_no_cancel(rds: redis.Redis, namespace: str, wq: WorkQueue) -> None:
    wq.enqueue(_item("w1"))
    events = WorkEvents(wq)
    events.apply(STORE, epoch=5)
    _submit(rds, namespace, event(STORE, "work_cancelled", item_id="w1"))

    with pytest.raises(FencedError):
        events.apply(STORE, epoch=4)

    assert _order(wq) == ["w1"]


def test_work_updated_must_change_something() -> None:
    with pytest.raises(BadInputError, match="changes nothing"):
        event(STORE, "work_updated", item_id="w1")
    assert WorkUpdated(id="e", partition=STORE, at=0, item_id="w1", priority=0).changes() == {
        "priority": 0
    }
