"""The open tasks of each partition this member runs, at its last tick.

Partition actors record them; a member measuring weights samples them
(:mod:`jarvis.election.measured`). One per process, like the metrics.
"""

from __future__ import annotations

import threading

__all__ = ["LOADS", "PartitionLoads"]


class PartitionLoads:
    """Partition -> open tasks at its last tick (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def record(self, partition: str, open_tasks: int) -> None:
        with self._lock:
            self._open[partition] = open_tasks

    def forget(self, partition: str) -> None:
        with self._lock:
            self._open.pop(partition, None)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {p: float(n) for p, n in self._open.items()}


LOADS = PartitionLoads()
