"""The cyclic garbage collector is paused while a batch of events is built
(jarvis/store/collector.py): off inside, back on after, owned by the first thread."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
import redis

from jarvis.models.events import WorkSubmitted
from jarvis.models.work import WorkItem
from jarvis.store.collector import collector_paused
from jarvis.store.producer import Producer
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue

STORE = "s1"


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    """Each test starts with the collector on and leaves it on."""
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_on_again_after_a_failure_inside() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_someone_else_disabled_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_first_thread_to_pause_owns_the_pause() -> None:
    inside, second_done, release = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with collector_paused():
            inside.set()
            release.wait(10)

    def second() -> None:
        with collector_paused():
            seen["inside second"] = gc.isenabled()
        seen["after second"] = gc.isenabled()
        second_done.set()

    owner = threading.Thread(target=first)
    owner.start()
    assert inside.wait(10), "the first thread never entered its pause"
    other = threading.Thread(target=second)
    other.start()
    assert second_done.wait(10), "the second thread never left its block"
    # the second thread found the collector paused and left it to its owner
    assert seen == {"inside second": False, "after second": False}
    release.set()
    owner.join(10)
    other.join(10)
    assert gc.isenabled()


def test_a_store_apply_runs_with_the_collector_paused(rds: redis.Redis, namespace: str) -> None:
    seen: list[bool] = []

    def clock() -> float:  # read by apply while it builds the batch
        seen.append(gc.isenabled())
        return 1_700_000_000.0

    item = WorkItem(id="w1", store=STORE, role="picker")
    Producer(rds, namespace).submit(WorkSubmitted(id="ws-1", partition=STORE, at=1.0, item=item))
    result = WorkEvents(WorkQueue(rds, namespace, clock=clock)).apply(STORE, 1)
    assert result.applied == 1
    assert seen, "apply never read its clock"
    assert not any(seen)
    assert gc.isenabled()
