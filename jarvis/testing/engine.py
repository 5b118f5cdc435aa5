"""An in-memory partition engine, for running partition actors without Redis.

:class:`StubEngine` is a real implementation of
:class:`~jarvis.actors.engine.PartitionEngine` that keeps its state in memory, the way
dramatiq's ``StubBroker`` is a real broker without a server. It keeps the engine's
contract:

- ``load`` continues the partition's tick numbering (``last_tick``, ``last_tick_at``);
- events submitted from any thread (:meth:`StubEngine.add_task`, :meth:`add_worker`,
  :meth:`complete`) are applied at the next tick, each at most once;
- each tick pairs open tasks with free workers (higher priority first, then by id; one
  open task per worker) and commits only if ``may_commit()`` says so right before;
- fencing: once an epoch has committed (or :meth:`fence` says a newer owner wrote), a
  tick with a lower epoch raises :class:`~jarvis.errors.FencedError` and writes nothing.

It does not run the solver: the pairing is first come, first served by priority. Tests
wait for what they expect with :meth:`StubEngine.wait_until`, woken by every tick.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from jarvis.actors.engine import TickReport
from jarvis.errors import FencedError

__all__ = ["StubEngine", "StubTick"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StubTick:
    """One tick the engine ran: what it applied, and what it committed."""

    epoch: int
    tick: int
    at: float
    applied: int
    assignments: tuple[tuple[str, str], ...]
    committed: bool


class StubEngine:
    """A partition engine whose state lives in memory (see the module docstring)."""

    def __init__(
        self,
        partition: str = "stub",
        kind: str = "city",
        *,
        last_tick: int = 0,
        last_tick_at: float | None = None,
    ) -> None:
        self.partition = partition
        self.kind = kind
        self._lock = threading.Lock()
        self._ticked = threading.Condition(self._lock)
        self._last_tick = last_tick
        self._last_tick_at = last_tick_at
        self._highest_epoch = -1
        self._pending: list[tuple[str, str, int]] = []  # (event, id, priority)
        self._open: dict[str, int] = {}  # task id -> priority
        self._free: set[str] = set()
        self._assigned: dict[str, str] = {}  # task id -> worker id
        self._ticks: list[StubTick] = []

    # --- events, from any thread ------------------------------------------------------

    def add_task(self, task_id: str, priority: int = 0) -> None:
        """Submit an open task; applied at the next tick."""
        with self._lock:
            self._pending.append(("task", task_id, priority))

    def add_worker(self, worker_id: str) -> None:
        """Submit a free worker; applied at the next tick."""
        with self._lock:
            self._pending.append(("worker", worker_id, 0))

    def complete(self, task_id: str) -> None:
        """Submit that an assigned task is done (its worker is free again)."""
        with self._lock:
            self._pending.append(("complete", task_id, 0))

    def fence(self, epoch: int) -> None:
        """A newer owner has written with ``epoch``: refuse ticks with a lower one."""
        with self._lock:
            self._highest_epoch = max(self._highest_epoch, epoch)

    # --- reading and waiting ----------------------------------------------------------

    def ticks(self) -> list[StubTick]:
        """Every tick run so far, in order."""
        with self._lock:
            return list(self._ticks)

    def assignments(self) -> dict[str, str]:
        """Tasks assigned and not completed -> their worker."""
        with self._lock:
            return dict(self._assigned)

    def wait_until(self, condition: Callable[[list[StubTick]], T], timeout: float) -> T | None:
        """The first truthy ``condition(ticks)``, checked after every tick; None if none
        came within ``timeout`` seconds."""
        with self._ticked:
            value = self._ticked.wait_for(lambda: condition(list(self._ticks)), timeout)
            return value or None

    # --- the PartitionEngine protocol, from the partition actor -----------------------

    def load(self) -> tuple[int, float | None]:
        with self._lock:
            return self._last_tick, self._last_tick_at

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        with self._ticked:
            if epoch < self._highest_epoch:
                raise FencedError(self.partition, epoch, self._highest_epoch)
            applied = self._apply()
            workers = sorted(self._free)
            tasks = sorted(self._open, key=lambda t: (-self._open[t], t))
            pairs = tuple(zip(tasks, workers, strict=False))
            open_tasks, free_workers = len(tasks), len(workers)
        committed = may_commit()  # outside the lock: it may be slow, like a real check
        with self._ticked:
            if committed and epoch < self._highest_epoch:
                raise FencedError(self.partition, epoch, self._highest_epoch)
            if committed:
                self._highest_epoch = epoch
                self._last_tick, self._last_tick_at = tick, now
                for task_id, worker_id in pairs:
                    del self._open[task_id]
                    self._free.discard(worker_id)
                    self._assigned[task_id] = worker_id
            self._ticks.append(
                StubTick(epoch, tick, now, applied, pairs if committed else (), committed)
            )
            self._ticked.notify_all()
        return TickReport(
            tick=tick,
            applied=applied,
            open_tasks=open_tasks,
            free_workers=free_workers,
            assigned=len(pairs) if committed else 0,
            committed=committed,
        )

    def _apply(self) -> int:
        """Apply the pending events (under the lock); how many changed something."""
        applied = 0
        for event, ident, priority in self._pending:
            if event == "task" and ident not in self._open and ident not in self._assigned:
                self._open[ident] = priority
            elif event == "worker" and ident not in self._free | set(self._assigned.values()):
                self._free.add(ident)
            elif event == "complete" and ident in self._assigned:
                self._free.add(self._assigned.pop(ident))
            else:
                continue
            applied += 1
        self._pending.clear()
        return applied
