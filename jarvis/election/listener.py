"""The seam between a member and whatever runs its partitions (the partition actors).

A :class:`~jarvis.election.member.Member` calls its listener from the member's own
worker thread, never from kazoo's threads, one call at a time. Calls must return
quickly: hand the work to an actor or a thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from jarvis.election.partitions import PartitionInfo

__all__ = ["OwnershipListener"]


class OwnershipListener(Protocol):
    """What a member tells the code that acts for its partitions."""

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        """The member owns ``partition`` from now on; every write carries ``epoch``."""

    def on_release_requested(self, partition_id: str) -> None:
        """The member wants to give the partition up (rebalance, ``release`` or drain).

        Stop the partition at its tick boundary, flush, then call
        ``member.release_done(partition_id)``, which deletes the owner node (only if it
        is still this ownership's node).
        """

    def on_lost(self, partition_id: str) -> None:
        """Ownership is gone without a handoff: stop acting for the partition at once.

        Causes: the session was lost, someone else deleted the owner node, the member
        stepped down on its local timer, or the member is stopping without a drain.
        """

    def on_suspended(self) -> None:
        """The connection to ZooKeeper is suspended: pause every partition (no commits)."""

    def on_resumed(self) -> None:
        """The connection is back: resume the partitions still owned.

        Called when the same session comes back, and also once connected again after a
        lost session (before any new ``on_acquired``), so a listener that keeps one
        "paused" flag clears it.
        """
