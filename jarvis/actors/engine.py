"""What a partition actor runs each tick, per kind of partition.

Two engines really exist: :class:`~jarvis.actors.city.CityEngine` (couriers to orders)
and :class:`~jarvis.actors.store.StoreEngine` (store work queues). The actor knows
only this protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["PartitionEngine", "TickReport"]


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did, for logs and metrics."""

    tick: int
    applied: int = 0
    dead_lettered: int = 0
    open_tasks: int = 0
    free_workers: int = 0
    assigned: int = 0
    committed: bool = True
    solve_seconds: float = 0.0
    #: Recorded by the idle-tick script alone: nothing had changed (see jarvis.store.idle).
    idle: bool = False


class PartitionEngine(Protocol):
    kind: str

    def load(self) -> tuple[int, float | None]:
        """Load what the engine needs from Redis.

        Returns the last tick number recorded for the partition (0 if none) and when it
        ran (unix seconds, None if never), so a new owner continues the numbering.
        """
        ...

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        """One decision round. Check ``may_commit()`` right before writing decisions.

        Raises :class:`~jarvis.errors.FencedError` if Redis has seen a newer epoch.
        """
        ...
