"""One thread that fires callbacks at given times: the tick clock of a member.

A partition actor schedules its next tick when it finishes one, so ticks never pile up
behind a slow one, and a fixed-rate schedule keeps the interval steady.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)


class Scheduler:
    """Run ``callback()`` at monotonic time ``due``; one pending entry per key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, str]] = []
        self._entries: dict[str, tuple[int, Callable[[], None]]] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="jarvis-scheduler", daemon=True)
        self._thread.start()

    def schedule(self, key: str, due: float, callback: Callable[[], None]) -> None:
        with self._cond:
            seq = next(self._seq)
            self._entries[key] = (seq, callback)
            heapq.heappush(self._heap, (due, seq, key))
            self._cond.notify()

    def cancel(self, key: str) -> None:
        with self._cond:
            self._entries.pop(key, None)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap:
                        due, seq, key = self._heap[0]
                        entry = self._entries.get(key)
                        if entry is None or entry[0] != seq:
                            heapq.heappop(self._heap)  # cancelled or replaced
                            continue
                        wait = due - self._clock()
                        if wait <= 0:
                            heapq.heappop(self._heap)
                            del self._entries[key]
                            callback = entry[1]
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
            try:
                callback()
            except Exception:
                log.exception("scheduled callback for %s failed", key)
