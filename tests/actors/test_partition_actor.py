"""A partition actor against a real Redis: it ticks, survives failures, obeys fencing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pykka
import pytest
import redis
from prometheus_client import REGISTRY

from jarvis.actors import PartitionActor, PartitionEngine, Scheduler, TickReport
from jarvis.actors.city import CityEngine
from jarvis.actors.messages import Release
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.faults import wait_for
from tests.store.builders import courier, event, order

CITY = "oslo"


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    s = Scheduler()
    yield s
    s.stop()


class Recorder:
    def __init__(self) -> None:
        self.released: list[tuple[str, int]] = []
        self.stopped = threading.Event()

    def on_released(self, partition: str, epoch: int) -> None:
        self.released.append((partition, epoch))

    def on_stopped(self, partition: str, epoch: int) -> None:
        self.stopped.set()


def _start(
    engine: PartitionEngine,
    scheduler: Scheduler,
    recorder: Recorder,
    epoch: int = 100,
    gate: Callable[[], bool] = lambda: True,
) -> pykka.ActorRef[PartitionActor]:
    return PartitionActor.start(
        CITY,
        epoch,
        engine,
        interval=0.05,
        scheduler=scheduler,
        gate=gate,
        on_released=recorder.on_released,
        on_stopped=recorder.on_stopped,
    )


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
    ref = _start(CityEngine(store), scheduler, recorder)
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
    wait_for(lambda: not ref.is_alive(), 5, "the released actor stopped")


def _tick_errors() -> float:
    value = REGISTRY.get_sample_value("jarvis_tick_errors_total", {"kind": "city"})
    return value or 0.0


class FlakyEngine:
    """A real city engine whose every other tick raises first."""

    kind = "city"

    def __init__(self, inner: CityEngine) -> None:
        self.inner = inner
        self.calls = 0

    def load(self) -> tuple[int, float | None]:
        return self.inner.load()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("simulated failure inside a tick")
        return self.inner.tick(epoch, tick, now, may_commit)


def test_an_exception_in_a_tick_is_counted_and_the_partition_keeps_ticking(
    rds: redis.Redis, namespace: str, scheduler: Scheduler
) -> None:
    store = CityStore(rds, CITY, namespace)
    engine = FlakyEngine(CityEngine(store))
    recorder = Recorder()
    errors_before = _tick_errors()
    ref = _start(engine, scheduler, recorder)
    wait_for(
        lambda: sum(d.type == "tick" for d in store.decisions()) >= 3,
        10,
        "three ticks committed between failing ones",
    )
    assert engine.calls >= 5  # failed, ok, failed, ok, failed, ok
    assert _tick_errors() - errors_before >= 2
    assert not recorder.stopped.is_set()
    ref.stop()


def test_a_fenced_actor_stops_and_writes_nothing_more(
    rds: redis.Redis, namespace: str, scheduler: Scheduler
) -> None:
    store = CityStore(rds, CITY, namespace)
    store.record_tick(500, 1, 1000.0)  # a newer owner has written with epoch 500
    before = store.decisions()
    recorder = Recorder()
    _start(CityEngine(store), scheduler, recorder, epoch=100)
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
    ref = _start(engine, scheduler, recorder, gate=lambda: False)
    assert calls.wait(5)
    wait_for(lambda: store.stats().get("applied") == "2", 5, "events applied while paused")
    assert [d for d in store.decisions() if d.type == "assignment"] == []
    ref.stop()
