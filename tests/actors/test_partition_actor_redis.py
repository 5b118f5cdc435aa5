"""A partition actor with the city engine against a real Redis: it ticks, survives
failures, obeys fencing (tests/actors/test_partition_actor.py: the same without Redis)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis

from jarvis.actors import Scheduler, TickReport
from jarvis.actors.city import CityEngine
from jarvis.actors.messages import Release
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.actors.conftest import CITY, Recorder, start_actor
from tests.faults import wait_for
from tests.store.builders import courier, event, order


def test_actor_assigns_submitted_orders_and_releases_at_a_tick_boundary(
    rds: redis.Redis, namespace: str, scheduler: Scheduler
) -> None:
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "courier_online", courier=courier("c1")),
            event(CITY, "order_created", order=order("o1")),
        ]
    )
    store = CityStore(rds, CITY, namespace)
    recorder = Recorder()
    ref = start_actor(CityEngine(store), scheduler, recorder)
    wait_for(
        lambda: any(d.type == "assignment" for d in store.decisions()),
        10,
        "the order was assigned",
    )
    (assignment,) = [d for d in store.decisions() if d.type == "assignment"]
    assert (assignment.task, assignment.worker, assignment.epoch) == ("o1", "c1", 100)
    ref.tell(Release())
    assert recorder.stopped.wait(5), "the actor never stopped after its release"
    assert recorder.released == [(CITY, 100)]
    assert ref.actor_stopped.wait(5), "the released actor never stopped"


def test_a_fenced_actor_stops_and_writes_nothing_more(
    rds: redis.Redis, namespace: str, scheduler: Scheduler
) -> None:
    store = CityStore(rds, CITY, namespace)
    store.record_tick(500, 1, 1000.0)  # a newer owner has written with epoch 500
    before = store.decisions()
    recorder = Recorder()
    start_actor(CityEngine(store), scheduler, recorder, epoch=100)
    assert recorder.stopped.wait(5), "the stale actor kept running"
    assert store.decisions() == before
    assert int(store.stats()["fenced"]) >= 1


def test_a_closed_gate_means_no_commit(
    rds: redis.Redis, namespace: str, scheduler: Scheduler
) -> None:
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "courier_online", courier=courier("c1")),
            event(CITY, "order_created", order=order("o1")),
        ]
    )
    store = CityStore(rds, CITY, namespace)
    engine = CityEngine(store)
    calls = threading.Event()
    original = engine.tick

    def counting(epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        report = original(epoch, tick, now, may_commit)
        calls.set()
        return report

    engine.tick = counting  # type: ignore[method-assign]
    recorder = Recorder()
    ref = start_actor(engine, scheduler, recorder, gate=lambda: False)
    assert calls.wait(5)
    wait_for(lambda: store.stats().get("applied") == "2", 5, "events applied while paused")
    assert [d for d in store.decisions() if d.type == "assignment"] == []
    ref.stop()
