"""Many clients at once against a real Redis: no item is handed out twice, none is lost,
each class leaves in priority order, and eligibility holds for every claim."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Callable

import redis

from jarvis.errors import NotClaimedError
from jarvis.models.work import Associate, WorkItem, may_take
from jarvis.store.work.queue import Claim, WorkQueue
from jarvis.store.work.rules import item_class
from tests.faults import wait_for

STORES = ("s1", "s2", "s3", "s4")
ROLES = ("picker", "stocker", "cashier")
LICENCES = ("forklift", "alcohol")
NOW = 1_700_000_000.0


def _items(n: int, rng: random.Random) -> list[WorkItem]:
    return [
        WorkItem(
            id=f"w{i}",
            store=rng.choice(STORES),
            role=rng.choice(ROLES),
            licence=rng.choice([None, None, *LICENCES]),
            remotable=rng.random() < 0.4,
            due_at=NOW + rng.uniform(-600, 7200) if rng.random() < 0.8 else None,
            priority=rng.choice([0, 0, 0, 10, 50, 100]),
            duration_s=rng.uniform(60, 1200),
        )
        for i in range(n)
    ]


def _associates(n: int, rng: random.Random) -> list[Associate]:
    """``n`` associates; the first of each store may take everything there, so the
    stores always drain. The rest are narrower, and a quarter are remote."""
    people = []
    for i in range(n):
        home = STORES[i % len(STORES)]
        if i < len(STORES):
            roles, licences, remote = frozenset(ROLES), frozenset(LICENCES), False
        else:
            roles = frozenset(rng.sample(ROLES, rng.randint(1, len(ROLES))))
            licences = frozenset(rng.sample(LICENCES, rng.randint(0, len(LICENCES))))
            remote = rng.random() < 0.25
        stores = frozenset(rng.sample(STORES, rng.randint(0, len(STORES))))
        people.append(
            Associate(
                id=f"a{i}",
                home_store="hq" if remote else home,
                stores=stores,
                roles=roles,
                licences=licences,
                remote=remote,
            )
        )
    return people


def _submitted_equals_done(wq: WorkQueue, n: int) -> bool:
    return sum(wq.counts(s)["done"] for s in STORES) == n


def _run_clients(
    people: list[Associate], work: Callable[[Associate], None], ticker: Callable[[], None]
) -> None:
    """Run ``work(person)`` in one thread each, and ``ticker`` in a loop beside them until
    they finish; re-raise the first error of any thread."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def guard(fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    def tick() -> None:
        while not stop.wait(0.02):
            ticker()

    clients = [threading.Thread(target=guard, args=(lambda p=p: work(p),)) for p in people]
    owner = threading.Thread(target=guard, args=(tick,))
    owner.start()
    for t in clients:
        t.start()
    for t in clients:
        t.join(timeout=240)
    stop.set()
    owner.join(timeout=30)
    assert not errors, errors[0]
    assert not any(t.is_alive() for t in clients), "a client never finished"


def test_64_clients_10000_items_none_twice_none_lost_in_priority_order(
    rds: redis.Redis, namespace: str
) -> None:
    rng = random.Random(7)
    wq = WorkQueue(rds, namespace, claim_ttl=600.0)
    items = _items(10_000, rng)
    by_id = {i.id: i for i in items}
    people = _associates(64, rng)
    for person in people:
        wq.register_associate(person)
    assert wq.enqueue_many(items) == len(items)
    claims: list[Claim] = []
    lock = threading.Lock()
    conservation_checks = [0]

    def work(person: Associate) -> None:
        mine: list[Claim] = []
        while True:
            claim = wq.get_work(person.id)
            if claim is None:
                # Narrow associates stop at the first empty answer; the store-wide ones
                # keep going until everything is done.
                if person.id not in {f"a{i}" for i in range(len(STORES))}:
                    break
                if _submitted_equals_done(wq, len(items)):
                    break
                continue
            mine.append(claim)
            wq.complete(claim.store, claim.item.id, person.id, token=claim.token)
        with lock:
            claims.extend(mine)

    def ticker() -> None:
        for store in STORES:
            wq.refresh_score(store, epoch=1)
            assert wq.reap(store, epoch=1) == 0
            c = wq.counts(store)
            assert c["queued"] + c["claimed"] + c["done"] == c["submitted"], (store, c)
        conservation_checks[0] += 1

    _run_clients(people, work, ticker)

    # Zero items handed out twice, and every item handed out (conserved, all done).
    ids = [c.item.id for c in claims]
    assert len(ids) == len(set(ids)) == len(items)
    for c in claims:  # handed out as submitted (enqueue only stamps created_at)
        assert c.item.model_copy(update={"created_at": 0.0}) == by_id[c.item.id]
    for store in STORES:
        n = wq.counts(store)
        assert (n["queued"], n["claimed"], n["done"]) == (0, 0, n["submitted"])
        assert rds.zcard(f"{namespace}:{{{store}}}:work:heads") == 0  # no stale head left
    assert conservation_checks[0] > 0

    # Eligibility: store-bound work only in its store, remote work only where qualified.
    people_by_id = {p.id: p for p in people}
    for c in claims:
        person = people_by_id[c.associate]
        assert may_take(person, c.item) is None, (person, c.item)
        if not c.item.remotable:
            assert (person.home_store, person.remote) == (c.store, False)

    # Within each class of a store, items left in priority order (claim tokens order
    # the claims of a store).
    leaving: dict[tuple[str, object], list[Claim]] = defaultdict(list)
    for c in claims:
        leaving[(c.store, item_class(c.item))].append(c)
    for sequence in leaving.values():
        sequence.sort(key=lambda c: c.token)
        order = [(c.start_by, c.item.id) for c in sequence]
        assert order == sorted(order)


def test_releases_and_lapses_under_churn_return_each_item_exactly_once(
    rds: redis.Redis, namespace: str
) -> None:
    rng = random.Random(11)
    wq = WorkQueue(rds, namespace, claim_ttl=0.3)
    items = _items(2_000, rng)
    people = _associates(32, rng)
    for person in people:
        wq.register_associate(person)
    wq.enqueue_many(items)
    log: list[tuple[Claim, str]] = []  # (claim, how it ended)
    lock = threading.Lock()
    store_wide = {f"a{i}" for i in range(len(STORES))}

    def work(person: Associate) -> None:
        local = random.Random(person.id)
        mine: list[tuple[Claim, str]] = []
        while True:
            claim = wq.get_work(person.id)
            if claim is None:
                if person.id not in store_wide or _submitted_equals_done(wq, len(items)):
                    break
                continue
            roll = local.random()
            try:
                if roll < 0.03:
                    mine.append((claim, "abandoned"))  # the app died: the lease will lapse
                    continue
                if roll < 0.13:
                    wq.release(claim.store, claim.item.id, person.id, token=claim.token)
                    mine.append((claim, "released"))
                else:
                    wq.complete(claim.store, claim.item.id, person.id, token=claim.token)
                    mine.append((claim, "done"))
            except NotClaimedError:
                mine.append((claim, "lapsed"))  # too slow: lapsed before we finished
        with lock:
            log.extend(mine)

    def ticker() -> None:
        for store in STORES:
            wq.reap(store, epoch=1)
            wq.refresh_score(store, epoch=1)

    _run_clients(people, work, ticker)
    wait_for(lambda: _submitted_equals_done(wq, len(items)), 10, "every item done")

    per_item: dict[str, list[tuple[Claim, str]]] = defaultdict(list)
    for claim, end in log:
        per_item[claim.item.id].append((claim, end))
    assert set(per_item) == {i.id for i in items}
    for item_id, history in per_item.items():
        history.sort(key=lambda h: h[0].token)
        ends = [end for _, end in history]
        # Done exactly once, and by the last claim: no one got the item after it was done.
        assert ends.count("done") == 1, (item_id, ends)
        assert ends[-1] == "done", (item_id, ends)
    lapses = sum(end in ("abandoned", "lapsed") for _, end in log)
    totals = {k: sum(wq.counts(s)[k] for s in STORES) for k in ("lapsed", "released", "done")}
    assert totals == {
        "lapsed": lapses,
        "released": sum(end == "released" for _, end in log),
        "done": len(items),
    }
    assert lapses > 0
