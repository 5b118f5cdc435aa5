"""The work dispenser against a real Redis: enqueue, get-work, complete, release,
heartbeat, lapsed claims and the remote ranking."""

from __future__ import annotations

import random
import threading
from typing import cast

import pytest
import redis

from jarvis.errors import (
    BadInputError,
    FencedError,
    NotClaimedError,
    UnknownAssociateError,
)
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import WorkQueue
from jarvis.store.work.rules import EnqueueRules


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wq(rds: redis.Redis, namespace: str, clock: Clock) -> WorkQueue:
    return WorkQueue(rds, namespace, claim_ttl=30.0, clock=clock)


def item(id: str, store: str = "s1", role: str = "picker", **kw: object) -> WorkItem:
    return WorkItem.model_validate({"id": id, "store": store, "role": role, **kw})


def associate(
    id: str, home: str = "s1", roles: tuple[str, ...] = ("picker",), **kw: object
) -> Associate:
    return Associate.model_validate({"id": id, "home_store": home, "roles": roles, **kw})


def test_enqueue_refuses_duplicate_ids_and_bad_input(wq: WorkQueue) -> None:
    assert wq.enqueue(item("w1")) is True
    assert wq.enqueue(item("w1", priority=50)) is False
    with pytest.raises(BadInputError):
        wq.enqueue("w2")  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="partition id"):
        wq.enqueue(item("w3", store="bad:store"))
    strict = WorkQueue(wq.redis, wq.namespace, rules=EnqueueRules(roles=frozenset({"picker"})))
    with pytest.raises(BadInputError, match="unknown role"):
        strict.enqueue_many([item("w4"), item("w5", role="juggler")])
    assert wq.counts("s1")["submitted"] == 1  # w4 was not written either


def test_get_work_returns_the_highest_priority_eligible_item(wq: WorkQueue) -> None:
    wq.register_associate(associate("ann", licences=("forklift",)))
    wq.enqueue_many(
        [
            item("late", due_at=1_010_000.0),
            item("soon", due_at=1_002_000.0),
            item("urgent-forklift", due_at=1_001_000.0, licence="forklift"),
            item("urgent-other-role", due_at=1_000_500.0, role="cashier"),
            item("urgent-other-licence", due_at=1_000_500.0, licence="alcohol"),
        ]
    )
    got = [wq.get_work("ann") for _ in range(4)]
    assert [c.item.id if c else None for c in got] == ["urgent-forklift", "soon", "late", None]
    first = got[0]
    assert first is not None
    assert (first.associate, first.store, first.expires_at) == ("ann", "s1", 1_000_030.0)


def test_claimed_item_is_never_handed_to_anyone_else(wq: WorkQueue) -> None:
    for name in ("ann", "bob"):
        wq.register_associate(associate(name))
    wq.enqueue(item("w1"))
    assert wq.get_work("ann") is not None
    assert wq.get_work("bob") is None
    assert wq.counts("s1") == {
        "queued": 0,
        "claimed": 1,
        "done": 0,
        "submitted": 1,
        "remotable": 0,
        "lapsed": 0,
        "released": 0,
        "dead": 0,
        "discarded": 0,
        "cancelled": 0,
    }


def test_only_the_holder_can_complete_release_or_heartbeat(wq: WorkQueue, clock: Clock) -> None:
    for name in ("ann", "bob"):
        wq.register_associate(associate(name))
    wq.enqueue(item("w1"))
    claim = wq.get_work("ann")
    assert claim is not None
    for call in (wq.complete, wq.release, wq.heartbeat):
        with pytest.raises(NotClaimedError, match="claimed by another associate"):
            call("s1", "w1", "bob")
    with pytest.raises(NotClaimedError, match="not claimed"):
        wq.complete("s1", "nope", "ann")
    with pytest.raises(NotClaimedError, match="no longer held"):
        wq.complete("s1", "w1", "ann", token=claim.token + 1)
    clock.now += 20
    assert wq.heartbeat("s1", "w1", "ann", token=claim.token) == clock.now + 30
    wq.complete("s1", "w1", "ann", token=claim.token)
    with pytest.raises(NotClaimedError):
        wq.complete("s1", "w1", "ann")
    assert wq.counts("s1")["done"] == 1
    assert wq.enqueue(item("w1")) is False  # a retried submission of done work


def test_released_item_goes_back_to_its_place(wq: WorkQueue) -> None:
    wq.register_associate(associate("ann"))
    wq.enqueue_many([item("first", due_at=1_001_000.0), item("second", due_at=1_002_000.0)])
    claim = wq.get_work("ann")
    assert claim is not None
    assert claim.item.id == "first"
    wq.release("s1", "first", "ann")
    assert [q.item.id for q in wq.queue("s1")] == ["first", "second"]
    again = wq.get_work("ann")
    assert again is not None
    assert again.item.id == "first"
    assert again.token > claim.token


def test_lapsed_claim_returns_exactly_once(wq: WorkQueue, clock: Clock) -> None:
    for name in ("ann", "bob"):
        wq.register_associate(associate(name))
    wq.enqueue(item("w1"))
    claim = wq.get_work("ann")
    assert claim is not None
    assert wq.reap("s1", epoch=7) == 0  # lease still holds
    clock.now = claim.expires_at
    with pytest.raises(NotClaimedError, match="lapsed"):
        wq.heartbeat("s1", "w1", "ann")
    # Many reapers at once (a tick and a retry, say): one of them returns the item.
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(wq.reap("s1", epoch=7))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0] * 7 + [1]
    assert wq.counts("s1") == {
        "queued": 1,
        "claimed": 0,
        "done": 0,
        "submitted": 1,
        "remotable": 0,
        "lapsed": 1,
        "released": 0,
        "dead": 0,
        "discarded": 0,
        "cancelled": 0,
    }
    with pytest.raises(NotClaimedError):
        wq.complete("s1", "w1", "ann")  # the lapsed holder can no longer complete
    again = wq.get_work("bob")
    assert again is not None
    assert again.item.id == "w1"


def test_reap_and_score_are_fenced_by_the_owner_epoch(wq: WorkQueue, clock: Clock) -> None:
    wq.register_associate(associate("ann"))
    wq.enqueue(item("w1"))
    assert wq.get_work("ann") is not None
    assert wq.reap("s1", epoch=2**60 + 1) == 0
    clock.now += 60
    with pytest.raises(FencedError) as refused:
        wq.reap("s1", epoch=2**60)
    assert refused.value.highest == 2**60 + 1
    with pytest.raises(FencedError):
        wq.refresh_score("s1", epoch=5)
    assert wq.counts("s1")["claimed"] == 1  # the fenced reap changed nothing
    with pytest.raises(BadInputError, match="epoch"):
        wq.reap("s1", epoch=-1)


def test_unknown_associate_and_too_wide_associate_are_refused(
    rds: redis.Redis, namespace: str
) -> None:
    wq = WorkQueue(rds, namespace, max_queues=8)
    with pytest.raises(UnknownAssociateError, match="ghost"):
        wq.get_work("ghost")
    with pytest.raises(BadInputError, match="invalid associate id"):
        wq.get_work("bad id")
    wide = associate("wide", roles=("a", "b", "c"), licences=("x",))  # 3 x 2 x 2 = 12 queues
    with pytest.raises(BadInputError, match="12 work queues"):
        wq.register_associate(wide)
    # Registered under a looser limit, then served by a stricter member: refused clearly.
    WorkQueue(rds, namespace).register_associate(wide)
    with pytest.raises(BadInputError, match="more than the 8"):
        wq.get_work("wide")


def test_store_bound_work_stays_in_its_store(wq: WorkQueue, clock: Clock) -> None:
    wq.register_associate(associate("local", home="s2", stores=("s1",)))
    wq.register_associate(associate("remote", home="s9", stores=("s1", "s2"), remote=True))
    wq.enqueue_many([item("bound", due_at=1_000_100.0), item("remotable", remotable=True)])
    wq.refresh_score("s1", epoch=1)
    got = wq.get_work("remote")
    assert got is not None
    assert got.item.id == "remotable"
    assert wq.get_work("local") is None  # s1's bound work is not theirs
    assert wq.get_work("remote") is None
    wq.register_associate(associate("home", home="s1"))
    home = wq.get_work("home")
    assert home is not None
    assert home.item.id == "bound"


def test_remote_associate_is_served_by_the_neediest_qualified_store(
    wq: WorkQueue, clock: Clock
) -> None:
    wq.register_associate(associate("rem", home="hq", stores=("s1", "s2"), remote=True))
    # s3 needs help most but rem is not qualified there; s2 needs it more than s1.
    wq.enqueue_many([item(f"s3-{i}", store="s3", remotable=True) for i in range(9)])
    wq.enqueue_many([item(f"s2-{i}", store="s2", remotable=True) for i in range(3)])
    wq.enqueue_many([item("s1-0", store="s1", remotable=True)])
    wq.enqueue(item("s1-urgent", store="s1", remotable=True, due_at=clock.now))
    scores = {s: wq.refresh_score(s, epoch=1) for s in ("s1", "s2", "s3")}
    # Urgency weighs: s1's 2 items (one past its start-by) score 1 + 4 = 5 > s2's 3.
    assert scores == {"s1": 5.0, "s2": 3.0, "s3": 9.0}
    assert [s for s, _ in wq.ranking()] == ["s3", "s1", "s2"]
    first = wq.get_work("rem")
    assert first is not None
    assert (first.store, first.item.id) == ("s1", "s1-urgent")
    second = wq.get_work("rem")  # the ranking moves at the next tick, not before
    assert second is not None
    assert (second.store, second.item.id) == ("s1", "s1-0")
    assert wq.refresh_score("s1", epoch=1) == 0.0
    stores = {c.store for c in iter(lambda: wq.get_work("rem"), None)}
    assert stores == {"s2"}
    assert wq.counts("s3")["queued"] == 9


def test_remote_attempts_are_bounded(rds: redis.Redis, namespace: str) -> None:
    wq = WorkQueue(rds, namespace, max_store_attempts=2)
    wq.register_associate(
        associate("rem", home="hq", stores=("s1", "s2", "s3"), remote=True, roles=("cashier",))
    )
    # s1 and s2 rank higher but have only picker work; s3 has cashier work, third in line.
    wq.enqueue_many([item(f"s1-{i}", store="s1", remotable=True) for i in range(5)])
    wq.enqueue_many([item(f"s2-{i}", store="s2", remotable=True) for i in range(4)])
    wq.enqueue(item("c", store="s3", role="cashier", remotable=True))
    for s in ("s1", "s2", "s3"):
        wq.refresh_score(s, epoch=1)
    assert wq.get_work("rem") is None  # past the bound: not tried this time
    rds.zadd(f"{namespace}:global:work:stores", {"s3": 100.0})
    got = wq.get_work("rem")
    assert got is not None
    assert got.item.id == "c"


def test_queue_lists_all_classes_in_priority_order(wq: WorkQueue) -> None:
    wq.enqueue_many(
        [
            item("c", due_at=1_003_000.0),
            item("a", due_at=1_001_000.0, role="cashier"),
            item("b", due_at=1_002_000.0, remotable=True, licence="forklift"),
        ]
    )
    listed = wq.queue("s1", limit=2)
    assert [q.item.id for q in listed] == ["a", "b"]
    assert listed[0].start_by < listed[1].start_by
    assert listed[0].item.created_at == 1_000_000.0


def test_past_the_scan_bound_get_work_still_finds_the_best_eligible_item(
    rds: redis.Redis, namespace: str, clock: Clock
) -> None:
    wq = WorkQueue(rds, namespace, max_queues=4, clock=clock)
    wq.register_associate(associate("cas", roles=("cashier",)))
    # Six non-empty classes ahead of the cashier's, more than the 4 heads get-work scans.
    wq.enqueue_many(
        item(f"u{i}", role=f"role{i}", due_at=1_000_100.0 + i, remotable=bool(i % 2))
        for i in range(6)
    )
    wq.enqueue_many([item("c2", role="cashier", due_at=1_009_000.0, remotable=True)])
    wq.enqueue_many([item("c1", role="cashier", due_at=1_008_000.0)])
    got = [wq.get_work("cas") for _ in range(3)]
    assert [c.item.id if c else None for c in got] == ["c1", "c2", None]


def _heads_are_exact(rds: redis.Redis, namespace: str, store: str) -> None:
    """The heads index lists exactly the non-empty queues, each at its first score."""
    prefix = f"{namespace}:{{{store}}}:work:q|"
    queues = {q: rds.zrange(q, 0, 0, withscores=True) for q in rds.scan_iter(match=prefix + "*")}
    expected = {q: head[0][1] for q, head in queues.items() if head}
    rows = rds.zrange(f"{namespace}:{{{store}}}:work:heads", 0, -1, withscores=True)
    heads = dict(cast(list[tuple[str, float]], rows))
    assert heads == expected


def test_heads_index_stays_exact_through_every_kind_of_move(
    rds: redis.Redis, namespace: str, clock: Clock
) -> None:
    rng = random.Random(5)
    wq = WorkQueue(rds, namespace, claim_ttl=10.0, clock=clock)
    people = [
        associate(f"p{i}", roles=tuple(rng.sample(["picker", "stocker"], rng.randint(1, 2))))
        for i in range(4)
    ]
    for p in people:
        wq.register_associate(p)
    held: list[tuple[str, str]] = []
    for step in range(400):
        roll = rng.random()
        if roll < 0.4:
            wq.enqueue(
                item(
                    f"w{step}",
                    role=rng.choice(["picker", "stocker"]),
                    remotable=rng.random() < 0.5,
                    due_at=clock.now + rng.uniform(0, 5000),
                    priority=rng.choice([0, 50]),
                )
            )
        elif roll < 0.75:
            who = rng.choice(people).id
            claim = wq.get_work(who)
            if claim is not None:
                held.append((claim.item.id, who))
        elif held and roll < 0.85:
            wq.release("s1", *held.pop(rng.randrange(len(held))))
        elif held and roll < 0.95:
            wq.complete("s1", *held.pop(rng.randrange(len(held))))
        else:
            clock.now += 11  # every claim lapses; the owner's tick returns them
            assert wq.reap("s1", epoch=1) == len(held)
            held.clear()
        _heads_are_exact(rds, namespace, "s1")
    counts = wq.counts("s1")
    assert counts["queued"] + counts["claimed"] + counts["done"] == counts["submitted"]
