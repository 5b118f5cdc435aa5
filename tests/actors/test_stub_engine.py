"""The in-memory StubEngine keeps the PartitionEngine contract the actor relies on."""

from __future__ import annotations

import pytest

from jarvis.errors import FencedError
from jarvis.testing.engine import StubEngine


def _yes() -> bool:
    return True


def _no() -> bool:
    return False


def test_events_apply_once_and_pairs_go_by_priority_then_id() -> None:
    engine = StubEngine("p1")
    for task, priority in (("b", 1), ("a", 1), ("c", 5), ("a", 9)):  # "a" again: ignored
        engine.add_task(task, priority)
    engine.add_worker("w2")
    engine.add_worker("w1")
    engine.add_worker("w1")  # already free: ignored
    report = engine.tick(7, 1, 100.0, _yes)
    assert (report.applied, report.open_tasks, report.free_workers) == (5, 3, 2)
    assert engine.assignments() == {"c": "w1", "a": "w2"}
    assert engine.ticks()[-1].assignments == (("c", "w1"), ("a", "w2"))

    engine.complete("c")
    engine.complete("c")  # done already: ignored
    report = engine.tick(7, 2, 101.0, _yes)
    assert report.applied == 1
    assert engine.assignments() == {"a": "w2", "b": "w1"}
    assert engine.load() == (2, 101.0)


def test_a_tick_that_may_not_commit_applies_events_and_assigns_nothing() -> None:
    engine = StubEngine("p1", last_tick=4, last_tick_at=50.0)
    engine.add_task("t")
    engine.add_worker("w")
    report = engine.tick(7, 5, 100.0, _no)
    assert (report.applied, report.committed, report.assigned) == (2, False, 0)
    assert engine.assignments() == {}
    assert engine.load() == (4, 50.0), "an uncommitted tick is not recorded"
    assert engine.tick(7, 6, 101.0, _yes).assigned == 1


def test_a_lower_epoch_is_fenced_and_changes_nothing() -> None:
    engine = StubEngine("p1")
    engine.tick(9, 1, 100.0, _yes)
    engine.add_task("t")
    engine.add_worker("w")
    with pytest.raises(FencedError) as info:
        engine.tick(8, 2, 101.0, _yes)
    assert (info.value.partition, info.value.epoch, info.value.highest) == ("p1", 8, 9)
    assert engine.load() == (1, 100.0)
    assert len(engine.ticks()) == 1
    engine.fence(12)  # a newer owner wrote
    with pytest.raises(FencedError):
        engine.tick(9, 2, 102.0, _yes)
    assert engine.tick(12, 2, 103.0, _yes).assigned == 1  # the events were kept for it


def test_wait_until_says_none_when_nothing_came() -> None:
    engine = StubEngine("p1")
    assert engine.wait_until(lambda ticks: len(ticks) >= 1, 0.05) is None
    engine.tick(1, 1, 100.0, _yes)
    assert engine.wait_until(lambda ticks: len(ticks), 0.05) == 1
