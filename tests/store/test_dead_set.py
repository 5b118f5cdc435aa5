"""Attempts and poison work: an item whose claims keep coming back reaches the store's
dead set with its history, and can be retried or discarded (real Redis)."""

from __future__ import annotations

import pytest
import redis

from jarvis.errors import BadInputError, NotFoundError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue

STORE = "s1"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_700_000_000.0)


@pytest.fixture
def wq(rds: redis.Redis, namespace: str, clock: Clock) -> WorkQueue:
    work = WorkQueue(rds, namespace, clock=clock, claim_ttl=10, max_attempts=3)
    for name in ("ann", "bob"):
        work.register_associate(Associate(id=name, home_store=STORE, roles=frozenset({"picker"})))
    return work


def _item(item_id: str, **extra: object) -> WorkItem:
    return WorkItem.model_validate({"id": item_id, "store": STORE, "role": "picker", **extra})


def _balanced(wq: WorkQueue) -> dict[str, int]:
    counts = wq.counts(STORE)
    parts = ("queued", "claimed", "done", "dead", "discarded", "cancelled")
    assert sum(counts[k] for k in parts) == counts["submitted"], counts
    return counts


def test_a_poison_item_reaches_the_dead_set_after_max_attempts_lapses(
    wq: WorkQueue, clock: Clock
) -> None:
    wq.enqueue(_item("poison"))
    tokens = []
    for attempt in range(3):
        claim = wq.get_work("ann" if attempt % 2 == 0 else "bob")
        assert claim is not None
        assert claim.item.id == "poison"
        tokens.append(claim.token)
        clock.now += 11  # the holder's app dies: the lease lapses
        assert wq.reap(STORE, epoch=1) == 1
        expected_dead = 1 if attempt == 2 else 0
        assert _balanced(wq)["dead"] == expected_dead
    assert wq.get_work("ann") is None  # dead work is handed to nobody
    [dead] = wq.dead_items(STORE)
    assert (dead.item.id, dead.attempts, dead.why) == ("poison", 3, "lapsed")
    assert [e["a"] for e in dead.history] == ["ann", "bob", "ann"]
    assert [e["why"] for e in dead.history] == ["lapsed"] * 3
    assert [int(e["t"]) for e in dead.history] == tokens
    assert all(float(e["r"]) > float(e["c"]) for e in dead.history)
    assert wq.counts(STORE)["lapsed"] == 3


def test_releases_count_too_and_an_items_own_max_attempts_wins(wq: WorkQueue) -> None:
    # The store default is 3; each item's own max_attempts wins.
    for item_id, own in (("fragile", 1), ("sturdy", 4)):
        wq.enqueue(_item(item_id, max_attempts=own))
        results = []
        while (claim := wq.get_work("ann")) is not None:
            assert claim.item.id == item_id
            results.append(wq.release(STORE, item_id, "ann", claim.token))
        assert results == [True] * (own - 1) + [False]  # queued again, then dead
    dead = {d.item.id: (d.attempts, d.why) for d in wq.dead_items(STORE)}
    assert dead == {"fragile": (1, "released"), "sturdy": (4, "released")}
    assert wq.counts(STORE)["released"] == 5
    _balanced(wq)


def test_a_retried_item_returns_to_its_place_with_fresh_attempts(wq: WorkQueue) -> None:
    wq.enqueue(_item("early", due_at=1_700_000_100.0))
    wq.enqueue(_item("late", due_at=1_700_009_000.0))
    for _ in range(3):
        claim = wq.get_work("ann")
        assert claim is not None
        assert claim.item.id == "early"
        wq.release(STORE, "early", "ann", claim.token)
    assert [d.item.id for d in wq.dead_items(STORE)] == ["early"]
    assert [q.item.id for q in wq.queue(STORE)] == ["late"]

    wq.retry_dead(STORE, "early")
    assert [q.item.id for q in wq.queue(STORE)] == ["early", "late"]  # its old place
    assert wq.dead_items(STORE) == []
    with pytest.raises(NotFoundError):
        wq.retry_dead(STORE, "early")  # twice: nothing more happens
    assert [q.item.id for q in wq.queue(STORE)] == ["early", "late"]
    # Three fresh attempts before it is dead again; its history is kept.
    for _ in range(3):
        claim = wq.get_work("ann")
        assert claim is not None
        assert claim.item.id == "early"
        wq.release(STORE, "early", "ann", claim.token)
    [dead] = wq.dead_items(STORE)
    assert [e["why"] for e in dead.history] == ["released"] * 3 + ["retried"] + ["released"] * 3
    _balanced(wq)


def test_a_discarded_item_is_gone_and_its_id_not_queued_again(wq: WorkQueue) -> None:
    wq.enqueue(_item("w1", max_attempts=1))
    claim = wq.get_work("ann")
    assert claim is not None
    assert wq.release(STORE, "w1", "ann", claim.token) is False
    assert wq.enqueue(_item("w1")) is False  # a dead id is still known
    wq.discard_dead(STORE, "w1")
    assert wq.dead_items(STORE) == []
    counts = _balanced(wq)
    assert (counts["dead"], counts["discarded"], counts["queued"]) == (0, 1, 0)
    assert wq.enqueue(_item("w1")) is False  # remembered like a completed id
    with pytest.raises(NotFoundError):
        wq.discard_dead(STORE, "w1")
    with pytest.raises(NotFoundError):
        wq.retry_dead(STORE, "never")


def test_completing_clears_attempts_and_bad_input_is_refused(
    wq: WorkQueue, rds: redis.Redis
) -> None:
    wq.enqueue(_item("w1"))
    claim = wq.get_work("ann")
    assert claim is not None
    wq.release(STORE, "w1", "ann", claim.token)
    claim = wq.get_work("ann")
    assert claim is not None
    wq.complete(STORE, "w1", "ann", claim.token)
    store_keys = WorkKeys(STORE, wq.namespace)
    assert rds.hget(store_keys.attempts, "w1") is None
    assert rds.hget(store_keys.history, "w1") is None
    with pytest.raises(BadInputError):
        wq.retry_dead(STORE, "bad id")
    with pytest.raises(BadInputError):
        wq.dead_items("bad store")
    with pytest.raises(BadInputError):
        WorkQueue(rds, wq.namespace, max_attempts=0)
