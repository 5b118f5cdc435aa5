"""Cancel and update a submitted work item: queued items change in place, a claimed
item's holder learns it on its next call (real Redis)."""

from __future__ import annotations

import pytest
import redis

from jarvis.errors import BadInputError, NotClaimedError, NotFoundError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import WorkQueue

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
    for name in ("ann", "bob"):
        work.register_associate(Associate(id=name, home_store=STORE, roles=frozenset({"picker"})))
    return work


def _item(item_id: str, **extra: object) -> WorkItem:
    return WorkItem.model_validate({"id": item_id, "store": STORE, "role": "picker", **extra})


def _order(wq: WorkQueue) -> list[str]:
    return [q.item.id for q in wq.queue(STORE)]


def _balanced(wq: WorkQueue) -> None:
    counts = wq.counts(STORE)
    parts = ("queued", "claimed", "done", "dead", "discarded", "cancelled")
    assert sum(counts[k] for k in parts) == counts["submitted"], counts


def test_cancel_a_queued_item_takes_it_out_of_its_queue(wq: WorkQueue) -> None:
    wq.enqueue_many([_item("w1", due_at=T0 + 600), _item("w2", due_at=T0 + 1200)])
    assert wq.cancel(STORE, "w1") is True
    assert _order(wq) == ["w2"]
    assert wq.cancel(STORE, "w1") is False  # again: already cancelled, nothing changes
    assert wq.enqueue(_item("w1")) is False  # a replayed submission is not queued again
    claim = wq.get_work("ann")
    assert claim is not None
    assert claim.item.id == "w2"  # the heads index followed
    assert wq.get_work("bob") is None
    assert wq.counts(STORE)["cancelled"] == 1
    _balanced(wq)
    with pytest.raises(NotFoundError):
        wq.cancel(STORE, "never")


def test_the_holder_of_a_cancelled_claim_learns_it_on_its_next_call(wq: WorkQueue) -> None:
    wq.enqueue(_item("w1"))
    claim = wq.get_work("ann")
    assert claim is not None
    assert wq.cancel(STORE, "w1") is True
    for call in (wq.heartbeat, wq.complete, wq.release):
        with pytest.raises(NotClaimedError) as caught:
            call(STORE, "w1", "ann", claim.token)
        assert caught.value.code == "item_cancelled"
    assert wq.get_work("bob") is None  # nothing went back to the queue
    counts = wq.counts(STORE)
    assert (counts["claimed"], counts["queued"], counts["done"]) == (0, 0, 0)
    _balanced(wq)


def test_update_changes_the_order_of_the_queue(wq: WorkQueue) -> None:
    wq.enqueue_many(
        [
            _item("first", due_at=T0 + 600),
            _item("second", due_at=T0 + 1200),
            _item("third", due_at=T0 + 1800),
        ]
    )
    assert _order(wq) == ["first", "second", "third"]
    assert wq.update(STORE, "third", {"due_at": T0 + 400}) == "queued"
    assert _order(wq) == ["third", "first", "second"]
    assert wq.update(STORE, "second", {"priority": 100}) == "queued"
    assert _order(wq)[0] == "second"
    [head] = [q for q in wq.queue(STORE) if q.item.id == "second"]
    assert head.item.priority == 100
    assert head.item.due_at == T0 + 1200  # the other fields stay
    claim = wq.get_work("ann")
    assert claim is not None
    assert claim.item.id == "second"  # get-work follows the new order
    assert claim.item.priority == 100


def test_update_of_a_claimed_item_keeps_the_claim_and_moves_its_return(wq: WorkQueue) -> None:
    wq.enqueue_many([_item("w1", due_at=T0 + 600), _item("w2", due_at=T0 + 1200)])
    claim = wq.get_work("ann")
    assert claim is not None
    assert claim.item.id == "w1"
    assert wq.update(STORE, "w1", {"due_at": T0 + 3600, "duration_s": 60}) == "claimed"
    wq.heartbeat(STORE, "w1", "ann", claim.token)  # still held
    wq.release(STORE, "w1", "ann", claim.token)
    assert _order(wq) == ["w2", "w1"]  # it came back at its new place


def test_update_refuses_bad_input_and_unknown_items(wq: WorkQueue) -> None:
    wq.enqueue(_item("w1"))
    with pytest.raises(BadInputError):
        wq.update(STORE, "w1", {"role": "cashier"})  # would change its class queue
    with pytest.raises(BadInputError):
        wq.update(STORE, "w1", {"priority": 101})
    with pytest.raises(NotFoundError):
        wq.update(STORE, "nothing", {"priority": 1})
    wq.cancel(STORE, "w1")
    with pytest.raises(NotFoundError):
        wq.update(STORE, "w1", {"priority": 1})
