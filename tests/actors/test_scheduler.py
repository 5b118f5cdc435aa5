"""The tick clock: entries run in the order they fell due, one pending entry per key,
and an entry scheduled before the clock's next wake-up still runs when due (the clock
is woken only when the earliest entry changes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from jarvis.actors import Scheduler

WAIT = 30.0


def _run(ran: list[str], key: str, then: threading.Event | None = None) -> Callable[[], None]:
    def callback() -> None:
        ran.append(key)
        if then is not None:
            then.set()

    return callback


def _hold(gate: threading.Event) -> Callable[[], None]:
    def callback() -> None:
        assert gate.wait(WAIT)

    return callback


def test_an_earlier_entry_scheduled_after_a_later_one_runs_without_waiting_for_it() -> None:
    scheduler = Scheduler(workers=1)
    ran: list[str] = []
    soon = threading.Event()
    try:
        now = time.monotonic()
        scheduler.schedule("late", now + 3600, _run(ran, "late"))
        scheduler.schedule("other", now + 1800, _run(ran, "other"))  # not the earliest
        scheduler.schedule("soon", now, _run(ran, "soon", soon))
        assert soon.wait(WAIT), "the entry due now never ran: the clock slept past it"
    finally:
        scheduler.stop()
    assert ran == ["soon"]


def test_due_entries_run_in_the_order_they_fell_due_and_a_key_runs_once() -> None:
    scheduler = Scheduler(workers=1)
    ran: list[str] = []
    done = threading.Event()
    gate = threading.Event()
    try:
        now = time.monotonic()
        scheduler.schedule("block", now - 10, _hold(gate))
        for i, key in enumerate(["c", "a", "b"]):
            scheduler.schedule(key, now - 5 + i, _run(ran, key))
        scheduler.schedule("a", now - 1, _run(ran, "a again"))  # replaces "a"
        scheduler.schedule("end", now, _run(ran, "end", done))
        gate.set()  # the only worker was held by "block" until now
        assert done.wait(WAIT), f"not every due entry ran: {ran}"
    finally:
        scheduler.stop()
    assert ran == ["c", "b", "a again", "end"]
