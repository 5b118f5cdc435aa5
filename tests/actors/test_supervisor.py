"""The member's supervisor against a real Redis: it outlives its handlers' exceptions,
answers for the ownership (partition, epoch) each message names, and a lost ownership
stops a tick already running before its commit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pykka
import pytest
import redis

from jarvis.actors import (
    Gate,
    LostFlags,
    MemberSupervisor,
    PartitionActor,
    PartitionEngine,
    SupervisorListener,
    TickReport,
)
from jarvis.actors.city import CityEngine
from jarvis.actors.messages import Acquired, Lost, ReleaseRequested
from jarvis.election import PartitionInfo
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.store.builders import courier, event, order

CITY = "oslo"
WAIT = 15.0


class Sink:
    """The supervisor's Releases: records what it is told, wakes waiters."""

    def __init__(self, fail_first: bool = False) -> None:
        self.done: list[tuple[str, int]] = []
        self.refused: list[tuple[str, int, str]] = []
        self._fail = fail_first
        self._changed = threading.Condition()

    def release_done(self, partition_id: str, epoch: int) -> None:
        with self._changed:
            if self._fail:
                self._fail = False
                raise RuntimeError("simulated failure answering release_done")
            self.done.append((partition_id, epoch))
            self._changed.notify_all()

    def refuse(self, partition_id: str, epoch: int, reason: str) -> None:
        with self._changed:
            self.refused.append((partition_id, epoch, reason))
            self._changed.notify_all()

    def wait_done(self, entry: tuple[str, int]) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: entry in self.done, WAIT)


class Blocker:
    """An engine factory wrapper that holds the supervisor inside ``engines(...)`` while
    it builds the engine of ``partition`` (so messages queue up behind it)."""

    def __init__(self, inner: Callable[[str, str, Mapping[str, Any]], PartitionEngine]) -> None:
        self.inner = inner
        self.building = threading.Event()
        self.release = threading.Event()

    def __call__(self, partition: str, kind: str, config: Mapping[str, Any]) -> PartitionEngine:
        if partition == "blocker":
            self.building.set()
            assert self.release.wait(WAIT), "the test never let the engine build finish"
        return self.inner(partition, kind, config)


class HeldEngine:
    """A real city engine whose first tick waits, right before its commit check, until
    the test lets it go; the report of that tick is kept."""

    kind = "city"

    def __init__(self, inner: CityEngine) -> None:
        self.inner = inner
        self.at_commit = threading.Event()
        self.proceed = threading.Event()
        self.ticked = threading.Event()
        self.report: TickReport | None = None

    def load(self) -> tuple[int, float | None]:
        return self.inner.load()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        if self.ticked.is_set():
            return self.inner.tick(epoch, tick, now, may_commit)

        def held() -> bool:
            self.at_commit.set()
            assert self.proceed.wait(WAIT), "the test never let the tick commit"
            return may_commit()

        self.report = self.inner.tick(epoch, tick, now, held)
        self.ticked.set()
        return self.report


@pytest.fixture
def stopping() -> Iterator[list[pykka.ActorRef[Any]]]:
    refs: list[pykka.ActorRef[Any]] = []
    yield refs
    for ref in refs:
        ref.stop(block=True, timeout=10)


def _engines(rds: redis.Redis, namespace: str) -> Callable[..., PartitionEngine]:
    def build(partition: str, kind: str, config: Mapping[str, Any]) -> PartitionEngine:
        return CityEngine(CityStore(rds, partition, namespace))

    return build


def test_a_release_for_an_actor_that_stopped_itself_leaves_the_supervisor_serving(
    rds: redis.Redis, namespace: str, stopping: list[pykka.ActorRef[Any]]
) -> None:
    engines = Blocker(_engines(rds, namespace))
    sink = Sink()
    supervisor = MemberSupervisor.start(engines, sink, interval=0.05, gate=Gate(), lost=LostFlags())
    stopping.append(supervisor)
    proxy = supervisor.proxy()
    supervisor.tell(Acquired(CITY, "city", {}, 100))
    running = proxy.running.get(timeout=WAIT)
    actor: pykka.ActorRef[PartitionActor] = running[CITY].ref
    # Hold the supervisor in an engine build, queue a release behind it, then make the
    # partition actor stop itself the way it does in production: a newer owner writes
    # with a higher epoch, and the actor's next tick is fenced.
    supervisor.tell(Acquired("blocker", "city", {}, 1))
    assert engines.building.wait(WAIT), "the supervisor never started the blocking build"
    supervisor.tell(ReleaseRequested(CITY, 100))
    CityStore(rds, CITY, namespace).apply_events(200)
    assert actor.actor_stopped.wait(WAIT), "the fenced partition actor never stopped"
    engines.release.set()

    assert sink.wait_done((CITY, 100)), f"no release_done for {CITY}: {sink.done}"
    supervisor.tell(Lost("blocker", 1))
    supervisor.tell(Acquired("bergen", "city", {}, 300))
    assert proxy.owned().get(timeout=WAIT) == {"bergen": 300}
    assert proxy.failure_count().get(timeout=WAIT) == 0


def test_an_exception_in_a_handler_is_counted_and_the_supervisor_keeps_serving(
    rds: redis.Redis, namespace: str, stopping: list[pykka.ActorRef[Any]]
) -> None:
    sink = Sink(fail_first=True)
    supervisor = MemberSupervisor.start(
        _engines(rds, namespace), sink, interval=0.05, gate=Gate(), lost=LostFlags()
    )
    stopping.append(supervisor)
    proxy = supervisor.proxy()
    supervisor.tell(ReleaseRequested("nowhere", 5))  # nothing runs it: release_done raises
    supervisor.tell(Acquired(CITY, "city", {}, 100))
    assert proxy.owned().get(timeout=WAIT) == {CITY: 100}
    assert proxy.failure_count().get(timeout=WAIT) == 1
    supervisor.tell(Lost(CITY, 100))
    assert proxy.owned().get(timeout=WAIT) == {}


def test_a_late_lost_for_an_earlier_ownership_leaves_the_newer_actor_running(
    rds: redis.Redis, namespace: str, stopping: list[pykka.ActorRef[Any]]
) -> None:
    supervisor = MemberSupervisor.start(
        _engines(rds, namespace), Sink(), interval=0.05, gate=Gate(), lost=LostFlags()
    )
    stopping.append(supervisor)
    proxy = supervisor.proxy()
    supervisor.tell(Acquired(CITY, "city", {}, 100))
    supervisor.tell(Acquired(CITY, "city", {}, 200))
    supervisor.tell(Lost(CITY, 100))
    assert proxy.owned().get(timeout=WAIT) == {CITY: 200}


def test_a_lost_ownership_stops_a_running_tick_before_its_commit(
    rds: redis.Redis, namespace: str, stopping: list[pykka.ActorRef[Any]]
) -> None:
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "courier_online", courier=courier("c1")),
            event(CITY, "order_created", order=order("o1")),
        ]
    )
    store = CityStore(rds, CITY, namespace)
    held = HeldEngine(CityEngine(store))

    def build(partition: str, kind: str, config: Mapping[str, Any]) -> PartitionEngine:
        return held if partition == CITY else CityEngine(CityStore(rds, partition, namespace))

    engines = Blocker(build)
    gate, lost = Gate(), LostFlags()
    supervisor = MemberSupervisor.start(engines, Sink(), interval=0.05, gate=gate, lost=lost)
    stopping.append(supervisor)
    listener = SupervisorListener(supervisor, gate, lost)
    listener.on_acquired(PartitionInfo(CITY, "city"), 100)
    assert held.at_commit.wait(WAIT), "the first tick never reached its commit"
    # The supervisor is busy (an engine build), as it can be when the member steps down.
    listener.on_acquired(PartitionInfo("blocker", "city"), 1)
    assert engines.building.wait(WAIT), "the supervisor never started the blocking build"
    listener.on_lost(CITY, 100)  # what the member's worker thread calls on a step-down
    held.proceed.set()
    assert held.ticked.wait(WAIT), "the held tick never finished"
    engines.release.set()

    assert held.report is not None
    assert not held.report.committed, "the tick committed after its ownership was lost"
    assert [d for d in store.decisions() if d.type == "assignment"] == []
