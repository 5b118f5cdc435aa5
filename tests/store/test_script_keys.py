"""Every script, run by its real caller against a real Redis behind the key checker
(``scripts/check_keys.lua``): no script touches a key it was not given in KEYS, and the
KEYS of every call share one hash tag (one Redis Cluster slot)."""

from __future__ import annotations

import pytest
import redis

from jarvis.actors.batch import assign_waiting
from jarvis.models.work import Associate, WorkItem
from jarvis.store.city import CityStore
from jarvis.store.dead_letters import DeadLetters
from jarvis.store.idle import city_idle_tick, store_idle_tick
from jarvis.store.producer import Producer
from jarvis.store.runner import ScriptRunner
from jarvis.store.scripts import _read
from jarvis.store.specs import SPECS
from jarvis.store.work.batch import WorkBatch
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue
from jarvis.store.work.ranking import RankingWeights, store_need
from jarvis.testing.servers import DevCluster
from tests.store.builders import courier, event, order


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_every_script_touches_only_its_declared_keys_of_one_slot(
    rds: redis.Redis, namespace: str
) -> None:
    runner = ScriptRunner(rds, check_keys=True)
    clock = Clock(1_700_000_000.0)
    producer = Producer(rds, namespace)

    city = CityStore(rds, "c1", namespace, scripts=runner)
    producer.submit_many(
        [
            event("c1", "order_created", order=order("o1").model_dump()),
            event("c1", "courier_online", courier=courier("k1").model_dump()),
        ]
    )
    assert city.apply_events(epoch=1).applied == 2
    assert city.commit(1, 1, [("o1", "k1")], clock.now).accepted
    producer.submit_many([event("c1", "order_declined", order_id="o1", courier_id="k1")])
    assert city.apply_events(epoch=1).applied == 1
    assert city.snapshot().declines[0][:2] == ("o1", "k1")
    assert city_idle_tick(city, 1, 2, clock.now) is None  # o1 is open again
    assert city_idle_tick(CityStore(rds, "c2", namespace, scripts=runner), 1, 1, clock.now)

    work = WorkQueue(rds, namespace, clock=clock, claim_ttl=30, scripts=runner)
    home = Associate(id="a1", home_store="s1", roles=frozenset({"picker"}))
    remote = Associate(
        id="r1", home_store="s2", roles=frozenset({"picker"}), remote=True, stores=("s1",)
    )
    for person in (home, remote):
        work.register_associate(person)
    work.enqueue_many(
        [
            WorkItem(id="w1", store="s1", role="picker"),
            WorkItem(id="w2", store="s1", role="picker", remotable=True),
        ]
    )
    claim = work.get_work("a1")
    assert claim is not None
    work.heartbeat("s1", claim.item.id, "a1", claim.token)
    work.release("s1", claim.item.id, "a1", claim.token)
    claim = work.get_work("a1")
    assert claim is not None
    work.complete("s1", claim.item.id, "a1", claim.token)
    assert work.refresh_score("s1", epoch=1) > 0
    assert work.get_work("r1") is not None  # remotable w2, through the ranking
    clock.now += 60
    assert work.reap("s1", epoch=1) == 1  # r1's claim lapsed
    assert work.counts("s1")["queued"] == 1

    # Poison work: released, then lapsed, into the dead set; retried, then discarded.
    work.register_associate(Associate(id="a3", home_store="s3", roles=frozenset({"picker"})))
    work.enqueue(WorkItem(id="p1", store="s3", role="picker", max_attempts=1))
    claim = work.get_work("a3")
    assert claim is not None
    assert work.release("s3", "p1", "a3", claim.token) is False  # to the dead set
    work.retry_dead("s3", "p1")
    assert work.get_work("a3") is not None
    clock.now += 60
    assert work.reap("s3", epoch=1) == 1
    assert [d.item.id for d in work.dead_items("s3")] == ["p1"]
    work.discard_dead("s3", "p1")
    # Update and cancel: queued, then claimed (its holder learns it).
    work.enqueue_many([WorkItem(id=i, store="s3", role="picker") for i in ("p2", "p3")])
    assert work.update("s3", "p2", {"priority": 9}) == "queued"
    assert work.cancel("s3", "p3") is True
    assert work.get_work("a3") is not None
    assert work.update("s3", "p2", {"priority": 10}) == "claimed"
    assert work.cancel("s3", "p2") is True
    assert work.signals("s1").dead == 0
    need = store_need(work, "s1", RankingWeights())
    assert (need.associates, need.completions) == (2, 1)  # a1 at home, r1 claimed there

    producer.submit_many(
        [
            event("s1", "work_submitted", item=WorkItem(id="w3", store="s1", role="cashier")),
            event("s1", "work_completed", item_id="nope", associate_id="a1"),
            event("s1", "work_updated", item_id="w3", priority=4),
            event("s1", "work_cancelled", item_id="w3"),
            event("s1", "work_cancelled", item_id="nope"),
        ]
    )
    applied = WorkEvents(work).apply("s1", epoch=1)
    assert (applied.applied, applied.dead_lettered) == (3, 2)
    letters = DeadLetters(rds, namespace, scripts=runner)
    first = letters.list("s1")[0]
    fixed = event("s1", "work_submitted", item=WorkItem(id="w4", store="s1", role="picker"))
    assert letters.resubmit("s1", first.id, fixed)[0] is True

    batch = WorkBatch(work)
    batch.set_mode("s1", 1, True, ttl_s=30)
    ticket = batch.wait(home, clock.now + 10)
    assert len(assign_waiting(batch, "s1", 1, clock.now)) == 1
    assert batch.give_up(ticket) is not None

    assert store_idle_tick(work, CityStore(rds, "s1", namespace), "s1", 1, 1, clock.now) is None
    assert store_idle_tick(work, CityStore(rds, "s9", namespace), "s9", 1, 1, clock.now)

    assert runner.used == set(SPECS)


def test_the_key_checker_refuses_an_undeclared_key(rds: redis.Redis, namespace: str) -> None:
    probe = rds.register_script(_read("check_keys.lua") + "return redis.call('GET', ARGV[1])")
    declared = f"{namespace}:{{s1}}:a"
    assert probe(keys=[declared], args=[declared]) is None
    with pytest.raises(redis.ResponseError, match="UNDECLARED GET"):
        probe(keys=[declared], args=[f"{namespace}:{{s1}}:b"])


def test_the_key_checker_refuses_keys_of_two_hash_tags(servers: DevCluster, namespace: str) -> None:
    # Standalone only: a Redis Cluster client refuses such a call before it is sent.
    with redis.Redis.from_url(servers.redis.url, decode_responses=True) as rds:
        probe = rds.register_script(_read("check_keys.lua") + "return redis.call('GET', KEYS[1])")
        with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
            probe(keys=[f"{namespace}:{{s1}}:a", f"{namespace}:{{s2}}:a"])
