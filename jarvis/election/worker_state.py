"""The member worker's own flags and timers, in one place.

Only the member's worker thread reads or writes a :class:`WorkerState` (``start`` fills
it in before the thread exists). Times are on the member's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["WorkerState"]


@dataclass(slots=True)
class WorkerState:
    """Connection flags and the times of the worker's next chores."""

    #: Connected to ZooKeeper (kazoo says CONNECTED, not SUSPENDED nor LOST).
    connected: bool = False
    #: The listener was told ``on_suspended`` and not yet ``on_resumed``.
    suspended: bool = False
    #: The session was lost (or the member node vanished): register again.
    needs_register: bool = False
    #: The member node already says ``draining``.
    published_draining: bool = False
    next_rebalance: float = 0.0
    #: Next sample of the partitions' loads (a member that measures weights).
    next_measure: float = 0.0
    #: No acquisition before this (the settle delay of a cold start).
    acquire_after: float = 0.0
    #: The settle delay never goes past this.
    settled_by: float = 0.0
    #: Members seen at the last settle check.
    seen_members: frozenset[str] = field(default_factory=frozenset)
    #: After a failed ZooKeeper round, try again at this time.
    retry_at: float = 0.0

    def wakeups(self, step_down_at: float | None) -> list[float]:
        """The times the worker must wake up at, whatever arrives on its queue
        (``step_down_at``: when it must step down unless ZooKeeper answers, if it holds
        anything)."""
        times = [self.next_rebalance, self.retry_at, self.acquire_after]
        if step_down_at is not None:
            times.append(step_down_at)
        return times
