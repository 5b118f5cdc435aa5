"""A partition actor on the in-memory StubEngine, no Redis: it continues the tick
numbering, releases at a tick boundary, survives failing ticks, stops when fenced and
commits nothing while its gate is closed. The same behaviour against a real Redis:
tests/actors/test_partition_actor_redis.py."""

from __future__ import annotations

import threading

from jarvis.actors import Scheduler
from jarvis.actors.messages import Release
from jarvis.testing.engine import StubEngine, StubTick
from tests.actors.conftest import CITY, FlakyEngine, Recorder, start_actor, tick_errors


def _assigned(ticks: list[StubTick]) -> list[tuple[str, str]]:
    return [pair for t in ticks for pair in t.assignments]


def test_an_actor_continues_the_numbering_assigns_and_releases_after_one_last_tick(
    scheduler: Scheduler,
) -> None:
    engine = StubEngine(CITY, last_tick=41, last_tick_at=1000.0)
    engine.add_worker("c1")
    engine.add_task("o1")
    recorder = Recorder()
    ref = start_actor(engine, scheduler, recorder)
    assert engine.wait_until(_assigned, 5) == [("o1", "c1")], "o1 was never assigned"
    first = engine.ticks()[0]
    assert (first.epoch, first.tick, first.applied, first.committed) == (100, 42, 2, True)

    engine.add_task("o2")
    engine.complete("o1")  # c1 is free again: the next tick gives it o2
    assert engine.wait_until(lambda ticks: ("o2", "c1") in _assigned(ticks), 5), "o2 unassigned"
    ran = len(engine.ticks())
    ref.tell(Release())
    assert recorder.stopped.wait(5), "the actor never stopped after its release"
    assert ref.actor_stopped.wait(5), "the released actor never stopped"
    assert recorder.released == [(CITY, 100)]
    ticks = engine.ticks()
    assert len(ticks) > ran, "no last tick at the release"
    assert [t.tick for t in ticks] == list(range(42, 42 + len(ticks)))
    assert engine.load()[0] == ticks[-1].tick


def test_an_exception_in_a_tick_is_counted_and_the_partition_keeps_ticking(
    scheduler: Scheduler,
) -> None:
    engine = StubEngine(CITY)
    flaky = FlakyEngine(engine)
    recorder = Recorder()
    errors_before = tick_errors("city")
    ref = start_actor(flaky, scheduler, recorder)
    committed = engine.wait_until(lambda ticks: len(ticks) >= 3, 5)
    assert committed, "three ticks never committed between failing ones"
    assert flaky.calls >= 5  # failed, ok, failed, ok, failed, ok
    assert tick_errors("city") - errors_before >= 2
    assert not recorder.stopped.is_set()
    ref.stop()
    assert ref.actor_stopped.wait(5), "the actor never stopped"


def test_a_fenced_actor_stops_and_writes_nothing(scheduler: Scheduler) -> None:
    engine = StubEngine(CITY)
    engine.fence(500)  # a newer owner has written with epoch 500
    engine.add_task("o1")
    recorder = Recorder()
    ref = start_actor(engine, scheduler, recorder, epoch=100)
    assert recorder.stopped.wait(5), "the stale actor kept running"
    assert ref.actor_stopped.wait(5), "the stale actor never stopped"
    assert engine.ticks() == []
    assert recorder.released == []


def test_a_closed_gate_means_no_commit_until_it_opens(scheduler: Scheduler) -> None:
    engine = StubEngine(CITY)
    engine.add_worker("c1")
    engine.add_task("o1")
    gate = threading.Event()  # closed, as while ZooKeeper is SUSPENDED
    recorder = Recorder()
    ref = start_actor(engine, scheduler, recorder, gate=gate.is_set)
    paused = engine.wait_until(lambda ticks: ticks[:2] if len(ticks) >= 2 else None, 5)
    assert paused, "the paused actor never ticked twice"
    assert [(t.applied, t.committed, t.assignments) for t in paused] == [
        (2, False, ()),  # events applied while paused
        (0, False, ()),
    ]
    assert engine.assignments() == {}
    gate.set()
    assert engine.wait_until(_assigned, 5) == [("o1", "c1")], "nothing committed after resuming"
    ref.stop()
    assert ref.actor_stopped.wait(5), "the actor never stopped"
