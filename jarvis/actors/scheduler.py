"""The tick clock of a member, and the bounded set of workers that runs what is due.

A partition actor schedules its next tick when it finishes one, so ticks never pile up
behind a slow one, and a fixed-rate schedule keeps the interval steady.

One thread keeps the clock: when an entry falls due it moves to the back of the *ready*
queue, in the order entries fell due. ``workers`` threads take entries from the front
and run their callbacks; a partition actor's callback runs the partition's tick on the
worker itself, under the actor's serial lock (see :mod:`jarvis.actors.partition`), so at
most ``workers`` ticks run at once whatever the number of partitions (the daemon sizes
it to the Redis connection pool, so a tick never fails for want of a connection; it
waits its turn instead).

A callback may say it can run together with others (:class:`Batchable`: the same
``batch_key``): a worker then takes the entries of that key that stand next to it at
the front of the ready queue, up to ``max_batch``, and runs them with one
``run_batch`` call (the idle ticks of many partitions in one Redis round trip, see
:mod:`jarvis.actors.pipelined`). The order stays the order entries fell due.

Over capacity, the ready queue grows: every entry still runs, in the order it fell
due, so each partition keeps ticking at a lower, equal rate. :meth:`Scheduler.lag` says
how late the oldest waiting entry is (the member's ``/readyz`` and
``jarvis_tick_lag_seconds`` report it).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from jarvis.repeats import RepeatedErrors

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_WORKERS", "Batchable", "Scheduler"]

log = logging.getLogger(__name__)

#: Workers when none is given (the daemon passes its own, see ``Settings.tick_workers``).
DEFAULT_WORKERS = 4
#: Most entries one worker takes at once when their callbacks are batchable.
DEFAULT_MAX_BATCH = 32


class Batchable(Protocol):
    """A callback that can run together with others of the same ``batch_key``.

    The scheduler tells one by its ``batch_key`` attribute (not a None one), never with
    ``isinstance``: a runtime protocol check costs a walk over the protocol's members, and
    the scheduler asks once per ready entry under its lock (8 % of a loaded member's
    samples with 2,000 partitions).
    """

    @property
    def batch_key(self) -> object | None: ...

    def __call__(self) -> None: ...

    def run_batch(self, batch: Sequence[Callable[[], None]]) -> None:
        """Run every callback of ``batch`` (this one first)."""
        ...


class Scheduler:
    """Run ``callback()`` at monotonic time ``due`` on one of ``workers`` threads; one
    pending entry per key (scheduling a key again replaces its pending entry)."""

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        clock: Callable[[], float] = time.monotonic,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        self._clock = clock
        self._heap: list[tuple[float, int, str]] = []
        # key -> (seq, due, callback): the entry that may still run, waiting or ready.
        self._entries: dict[str, tuple[int, float, Callable[[], None]]] = {}
        self._ready: deque[tuple[int, str]] = deque()
        self._seq = itertools.count()
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # the clock thread waits on it
        self._work = threading.Condition(lock)  # the workers wait on it
        self._stopped = False
        self._errors = RepeatedErrors(log)
        self.workers = workers
        self.max_batch = max(1, max_batch)
        self._threads = [threading.Thread(target=self._run, name="jarvis-scheduler", daemon=True)]
        self._threads += [
            threading.Thread(target=self._serve, name=f"jarvis-tick-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def schedule(self, key: str, due: float, callback: Callable[[], None]) -> None:
        with self._cond:
            seq = next(self._seq)
            self._entries[key] = (seq, due, callback)
            heapq.heappush(self._heap, (due, seq, key))
            if self._heap[0][1] == seq:  # the clock waits for an earlier entry otherwise
                self._cond.notify()

    def cancel(self, key: str) -> None:
        with self._cond:
            self._entries.pop(key, None)

    def waiting(self) -> int:
        """Entries due but not started yet (an upper bound: cancelled ones count until a
        worker skips them)."""
        with self._cond:
            return len(self._ready)

    def lag(self) -> float:
        """How late (seconds) the oldest entry that is due but not started is; 0 if none."""
        with self._cond:
            while self._ready:
                seq, key = self._ready[0]
                entry = self._entries.get(key)
                if entry is not None and entry[0] == seq:
                    return max(0.0, self._clock() - entry[1])
                self._ready.popleft()  # cancelled or replaced
            return 0.0

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            self._work.notify_all()
        for thread in self._threads:
            thread.join(5)

    def _run(self) -> None:
        """The clock: move entries that fell due to the ready queue, in due order."""
        with self._cond:
            while not self._stopped:
                if not self._heap:
                    self._cond.wait()
                    continue
                due, seq, key = self._heap[0]
                entry = self._entries.get(key)
                if entry is None or entry[0] != seq:
                    heapq.heappop(self._heap)  # cancelled or replaced
                    continue
                wait = due - self._clock()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._ready.append((seq, key))
                self._work.notify()

    def _serve(self) -> None:
        """A worker: run ready entries, oldest first."""
        while True:
            callback: Callable[[], None] | None = None
            with self._cond:
                while callback is None:
                    if self._stopped:
                        return
                    if not self._ready:
                        self._work.wait()
                        continue
                    seq, key = self._ready.popleft()
                    entry = self._entries.get(key)
                    if entry is not None and entry[0] == seq:
                        del self._entries[key]
                        callback = entry[2]
                batch = self._batch_with(callback)
            try:
                if len(batch) > 1:
                    cast(Batchable, callback).run_batch(batch)
                else:
                    callback()
            except Exception as exc:
                self._errors.error(exc, "scheduled callback %s failed", key)

    def _batch_with(self, callback: Callable[[], None]) -> list[Callable[[], None]]:
        """``callback`` and the ready entries of its batch key right behind it (under
        the lock)."""
        batch = [callback]
        group = getattr(callback, "batch_key", None)
        while group is not None and self._ready and len(batch) < self.max_batch:
            seq, key = self._ready[0]
            entry = self._entries.get(key)
            if entry is None or entry[0] != seq:
                self._ready.popleft()  # cancelled or replaced
                continue
            other = entry[2]
            if getattr(other, "batch_key", None) is not group:
                break
            self._ready.popleft()
            del self._entries[key]
            batch.append(other)
        return batch
