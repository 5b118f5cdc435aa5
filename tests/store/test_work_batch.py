"""Batch mode against a real Redis: the owner's tick hands work to the waiting
associates with the solver, one fenced atomic claim per choice."""

from __future__ import annotations

import pytest
import redis

from jarvis.actors.batch import assign_waiting
from jarvis.errors import FencedError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.batch import WorkBatch
from jarvis.store.work.queue import WorkQueue

STORE = "s1"
NOW = 1_700_000_000.0


@pytest.fixture
def wq(rds: redis.Redis, namespace: str) -> WorkQueue:
    return WorkQueue(rds, namespace, clock=lambda: NOW, claim_ttl=60.0)


def _person(pid: str, licences: frozenset[str] = frozenset()) -> Associate:
    return Associate(id=pid, home_store=STORE, roles=frozenset({"picker"}), licences=licences)


def test_solver_serves_both_waiting_where_first_come_first_served_would_serve_one(
    wq: WorkQueue,
) -> None:
    generalist = _person("g", frozenset({"forklift"}))
    picker = _person("p")
    for person in (generalist, picker):
        wq.register_associate(person)
    wq.enqueue(WorkItem(id="urgent", store=STORE, role="picker", priority=100))
    wq.enqueue(WorkItem(id="lift", store=STORE, role="picker", licence="forklift"))
    batch = WorkBatch(wq)
    tickets = {p.id: batch.wait(p, NOW + 10) for p in (generalist, picker)}
    assert [t.associate for t in batch.waiting(STORE, NOW)] == ["g", "p"]

    claims = assign_waiting(batch, STORE, epoch=1, now=NOW)

    # First come, first served would give "urgent" (the head) to g and nothing to p.
    assert {(c.associate, c.item.id) for c in claims} == {("g", "lift"), ("p", "urgent")}
    got = {pid: batch.poll(t) for pid, t in tickets.items()}
    assert {pid: c.item.id for pid, c in got.items() if c} == {"g": "lift", "p": "urgent"}
    assert sorted(c.token for c in got.values() if c) == [1, 2]
    counts = wq.counts(STORE)
    assert (counts["queued"], counts["claimed"], counts["submitted"]) == (0, 2, 2)
    assert batch.waiting(STORE, NOW) == []  # served requests left the waiting set
    wq.complete(STORE, "lift", "g", token=got["g"].token if got["g"] else None)
    assert wq.counts(STORE)["done"] == 1


def test_items_of_one_class_still_leave_in_queue_order(wq: WorkQueue) -> None:
    wq.register_associate(_person("p"))
    # Same class. The long one is the queue head (it must start sooner); the solver alone
    # would prefer the short one (same waiting cost, less associate time).
    wq.enqueue(WorkItem(id="long", store=STORE, role="picker", duration_s=3000))
    wq.enqueue(WorkItem(id="short", store=STORE, role="picker", duration_s=60, due_at=NOW + 1e5))
    assert [q.item.id for q in wq.queue(STORE)] == ["long", "short"]
    batch = WorkBatch(wq)
    ticket = batch.wait(wq.associate("p"), NOW + 10)

    claims = assign_waiting(batch, STORE, epoch=1, now=NOW)

    assert [c.item.id for c in claims] == ["long"]
    polled = batch.poll(ticket)
    assert polled is not None
    assert polled.item.id == "long"
    assert [q.item.id for q in wq.queue(STORE)] == ["short"]


def test_a_request_that_gave_up_is_never_served(wq: WorkQueue) -> None:
    wq.register_associate(_person("p"))
    wq.enqueue(WorkItem(id="w1", store=STORE, role="picker"))
    batch = WorkBatch(wq)
    ticket = batch.wait(wq.associate("p"), NOW + 10)
    assert batch.give_up(ticket) is None
    expired = batch.wait(wq.associate("p"), NOW - 1)  # its wait is already over
    assert batch.waiting(STORE, NOW) == []

    assert assign_waiting(batch, STORE, epoch=1, now=NOW) == []
    assert batch.give_up(expired) is None
    assert wq.counts(STORE)["queued"] == 1


def test_a_claim_made_before_giving_up_is_returned_by_give_up(wq: WorkQueue) -> None:
    wq.register_associate(_person("p"))
    wq.enqueue(WorkItem(id="w1", store=STORE, role="picker"))
    batch = WorkBatch(wq)
    ticket = batch.wait(wq.associate("p"), NOW + 10)
    assert len(assign_waiting(batch, STORE, epoch=1, now=NOW)) == 1
    claim = batch.give_up(ticket)
    assert claim is not None
    assert (claim.item.id, claim.associate) == ("w1", "p")
    assert batch.poll(ticket) is None  # handed over once


def test_a_deposed_owner_cannot_assign(wq: WorkQueue) -> None:
    wq.register_associate(_person("p"))
    wq.enqueue(WorkItem(id="w1", store=STORE, role="picker"))
    wq.reap(STORE, epoch=5)  # a newer owner has written
    batch = WorkBatch(wq)
    ticket = batch.wait(wq.associate("p"), NOW + 10)
    with pytest.raises(FencedError):
        assign_waiting(batch, STORE, epoch=3, now=NOW)
    assert wq.counts(STORE)["queued"] == 1
    assert batch.poll(ticket) is None
    assert [c.item.id for c in assign_waiting(batch, STORE, epoch=5, now=NOW)] == ["w1"]


def test_batch_mode_mark_expires_without_its_owner(wq: WorkQueue, rds: redis.Redis) -> None:
    batch = WorkBatch(wq)
    assert not batch.in_batch_mode(STORE)
    batch.set_mode(STORE, 1, True, ttl_s=30)
    assert batch.in_batch_mode(STORE)
    key = f"{wq.namespace}:{{{STORE}}}:work:batch"
    assert 0 < rds.pttl(key) <= 30_000
    batch.set_mode(STORE, 1, False, ttl_s=30)
    assert not batch.in_batch_mode(STORE)


def test_a_deposed_owner_cannot_renew_the_batch_mode_mark(wq: WorkQueue, rds: redis.Redis) -> None:
    batch = WorkBatch(wq)
    batch.set_mode(STORE, 5, False, ttl_s=30)  # a newer owner has written
    with pytest.raises(FencedError):
        batch.set_mode(STORE, 3, True, ttl_s=30)
    assert not batch.in_batch_mode(STORE)
