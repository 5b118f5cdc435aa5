"""Committing a tick: fenced, all or nothing, never a double assignment."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import redis

from jarvis.errors import BadInputError, FencedError
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from jarvis.store.replies import stream_entries
from tests.store.builders import courier, dump, event, order

CITY = "rome"


def seed(rds: redis.Redis, namespace: str, orders: int, couriers: int, capacity: int) -> None:
    Producer(rds, namespace).submit_many(
        [event(CITY, "order_created", order=order(f"o{i}", 1000.0 + i)) for i in range(orders)]
        + [
            event(CITY, "courier_online", courier=courier(f"c{i}", capacity))
            for i in range(couriers)
        ]
    )
    assert CityStore(rds, CITY, namespace).apply_events(1).applied == orders + couriers


def test_a_commit_with_an_older_epoch_is_refused_and_changes_nothing(
    rds: redis.Redis, namespace: str
) -> None:
    seed(rds, namespace, orders=2, couriers=1, capacity=2)
    new = CityStore(rds, CITY, namespace)
    old = CityStore(rds, CITY, namespace)
    assert new.commit(2**62 + 7, 1, [("o0", "c0")], 2000.0).accepted
    before = dump(rds, namespace)
    with pytest.raises(FencedError) as info:
        old.commit(2**62 + 6, 1, [("o1", "c0")], 2000.5)
    assert info.value.highest == 2**62 + 7
    after = dump(rds, namespace)
    stats = after.pop(new.keys.stats)
    assert stats == {**before.pop(new.keys.stats), "fenced": "1"}
    assert after == before
    with pytest.raises(FencedError):
        old.record_tick(2**62 + 6, 2, 2001.0)
    assert new.stats()["fenced"] == "2"


def test_a_commit_with_a_conflicting_pair_changes_nothing(rds: redis.Redis, namespace: str) -> None:
    seed(rds, namespace, orders=4, couriers=2, capacity=1)
    Producer(rds, namespace).submit(event(CITY, "courier_offline", courier_id="c1"))
    store = CityStore(rds, CITY, namespace)
    store.apply_events(1)
    assert store.commit(1, 1, [("o0", "c0")], 2000.0).accepted
    before = dump(rds, namespace)
    cases = {
        "order o0 is no longer open (assigned)": [("o1", "c0"), ("o0", "c0")],
        "order o9 is unknown": [("o9", "c0")],
        "courier c1 is offline": [("o1", "c1")],
        "courier c7 is unknown": [("o1", "c7")],
        "order o1 appears twice in the commit": [("o1", "c0"), ("o1", "c0")],
    }
    for reason, pairs in cases.items():
        result = store.commit(1, 2, pairs, 2001.0)
        assert not result.accepted
        assert reason in result.conflicts
    after = dump(rds, namespace)
    stats = after.pop(store.keys.stats)
    assert stats == {**before.pop(store.keys.stats), "conflicts": str(len(cases))}
    assert after == before


def test_capacity_counts_earlier_pairs_of_the_same_commit(rds: redis.Redis, namespace: str) -> None:
    seed(rds, namespace, orders=3, couriers=1, capacity=2)
    store = CityStore(rds, CITY, namespace)
    result = store.commit(1, 1, [("o0", "c0"), ("o1", "c0"), ("o2", "c0")], 2000.0)
    assert result.conflicts == ("courier c0 is full (2/2)",)
    assert store.commit(1, 1, [("o0", "c0"), ("o1", "c0")], 2000.0).accepted
    assert store.commit(1, 2, [("o2", "c0")], 2001.0).conflicts == ("courier c0 is full (2/2)",)


def test_every_tick_leaves_decisions_and_stats(rds: redis.Redis, namespace: str) -> None:
    seed(rds, namespace, orders=2, couriers=2, capacity=1)
    store = CityStore(rds, CITY, namespace)
    accepted = store.commit(9, 41, [("o0", "c1"), ("o1", "c0")], 2000.25)
    assert accepted.accepted
    assert accepted.marker
    marker = store.record_tick(9, 42, 2001.5)

    decisions = store.decisions()
    assert [(d.type, d.tick, d.task, d.worker) for d in decisions] == [
        ("assignment", 41, "o0", "c1"),
        ("assignment", 41, "o1", "c0"),
        ("tick", 41, None, None),
        ("tick", 42, None, None),
    ]
    assert [d.assignments for d in decisions if d.type == "tick"] == [2, 0]
    assert {(d.partition, d.epoch) for d in decisions} == {(CITY, 9)}
    assert decisions[0].at == 2000.25
    assert (decisions[2].id, decisions[3].id) == (accepted.marker, marker)
    assert store.decisions(after=decisions[1].id, count=1) == [decisions[2]]
    assert stream_entries(rds.xrange(store.keys.decisions_out, count=1))[0][1] == {
        "type": "assignment",
        "partition": CITY,
        "epoch": "9",
        "tick": "41",
        "task": "o0",
        "worker": "c1",
        "at": "2000.25",
    }
    stats = store.stats()
    assert (stats["tick"], stats["last_tick_at"], stats["last_epoch"]) == ("42", "2001.5", "9")
    assert (stats["commits"], stats["assigned"]) == ("2", "2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 1, [], 1.0), "epoch"),
        ((2**64, 1, [], 1.0), "epoch"),
        ((1, -1, [], 1.0), "tick"),
        ((1, 1, [], float("nan")), "now"),
        ((1, 1, [("o1",)], 1.0), "assignment"),
        ((1, 1, [("o1", "")], 1.0), "assignment"),
        ((1, 1, [("o1", "c1"), ("o2", 7)], 1.0), "assignment"),
        ((1, 1, [("o1", "c1"), ("o2", "c2", "c3")], 1.0), "assignment"),
    ],
)
def test_malformed_commits_are_refused_before_redis(
    rds: redis.Redis, namespace: str, args: tuple[object, ...], message: str
) -> None:
    store = CityStore(rds, CITY, namespace)
    with pytest.raises(BadInputError, match=message):
        store.commit(*args)  # type: ignore[arg-type]
    assert dump(rds, namespace) == {}


def test_two_members_from_the_same_snapshot_never_double_assign(
    rds: redis.Redis, namespace: str
) -> None:
    """Even with equal epochs (no fencing), the script re-checks every pair."""
    seed(rds, namespace, orders=2, couriers=2, capacity=1)
    a = CityStore(rds, CITY, namespace)
    b = CityStore(rds, CITY, namespace)
    snap = a.snapshot()
    assert snap == b.snapshot()
    assert a.commit(3, 1, [("o0", "c0"), ("o1", "c1")], 2000.0).accepted
    refused = b.commit(3, 1, [("o0", "c1"), ("o1", "c0")], 2000.0)
    assert not refused.accepted
    assert len(refused.conflicts) == 4  # both orders taken, both couriers full


def test_racing_members_never_double_assign_or_overfill(rds: redis.Redis, namespace: str) -> None:
    """An old owner and a new one commit greedily and concurrently on the same city."""
    seed(rds, namespace, orders=60, couriers=10, capacity=3)
    stores = {5: CityStore(rds, CITY, namespace), 7: CityStore(rds, CITY, namespace)}
    start = threading.Barrier(2)
    fenced: list[int] = []

    def member(epoch: int) -> None:
        store = stores[epoch]
        start.wait()
        for tick in range(40):
            snap = store.snapshot()
            slots = [c.id for c in snap.couriers for _ in range(c.capacity)]
            # Each member picks a different order of pairs so that they collide.
            orders = [o.id for o in snap.orders][:: 1 if epoch == 5 else -1]
            pairs = list(zip(orders[:2], slots[:2], strict=False))
            try:
                store.commit(epoch, tick, pairs, 2000.0 + tick)
            except FencedError:
                fenced.append(epoch)
                return

    threads = [threading.Thread(target=member, args=(epoch,)) for epoch in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert 7 not in fenced

    decisions = stores[7].decisions(count=10_000)
    assigned = [(d.task, d.worker, d.epoch) for d in decisions if d.type == "assignment"]
    tasks = Counter(task for task, _, _ in assigned)
    assert tasks
    assert max(tasks.values()) == 1
    assert max(Counter(worker for _, worker, _ in assigned).values()) <= 3
    # The old owner wrote nothing after the new one's first write.
    epochs = [d.epoch for d in decisions]
    if 7 in epochs:
        assert 5 not in epochs[epochs.index(7) :]
    assert rds.hlen(stores[7].keys.assignments) == len(assigned)
    assert stores[7].snapshot().couriers == ()  # 10 x 3 slots, all filled exactly once
