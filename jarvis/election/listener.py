"""The seam between a member and whatever runs its partitions (the partition actors).

A :class:`~jarvis.election.member.Member` calls its listener from the member's own
worker thread, never from kazoo's threads, one call at a time. Calls must return
quickly: hand the work to an actor or a thread. Every call about one partition names
the ownership it is about by its epoch, so a late answer about an earlier ownership of
the same partition can be told apart from one about the current ownership.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from jarvis.election.partitions import PartitionInfo

__all__ = ["OwnershipListener"]


class OwnershipListener(Protocol):
    """What a member tells the code that acts for its partitions."""

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        """The member owns ``partition`` from now on; every write carries ``epoch``.

        A listener that cannot run the partition (its engine cannot be built) calls
        ``member.refuse(partition.id, epoch, reason)``: the owner node is deleted, so
        another member takes it, and this member takes it back only after a backoff.
        """

    def on_release_requested(self, partition_id: str, epoch: int) -> None:
        """The member wants to give the ownership ``epoch`` up (rebalance, ``release`` or
        drain).

        Stop the partition at its tick boundary, flush, then call
        ``member.release_done(partition_id, epoch)``, which deletes the owner node (only
        if it is still this ownership's node).
        """

    def on_lost(self, partition_id: str, epoch: int) -> None:
        """Ownership ``epoch`` is gone without a handoff: stop acting for it at once.

        Causes: the session was lost, someone else deleted the owner node, the member
        stepped down on its local timer, or the member is stopping without a drain.
        A tick already running must not commit after this returns (where cheap, the
        listener sets a flag that the tick checks right before its fenced commit).
        """

    def on_suspended(self) -> None:
        """The session is lost: pause every partition (no commits) before ``on_lost``.

        A connection that is only suspended (kazoo's SUSPENDED, the session still alive)
        does not call this: partitions keep committing until the member steps down.
        """

    def on_resumed(self) -> None:
        """The connection is back: resume the partitions still owned.

        Called when the same session comes back, and also once connected again after a
        lost session (before any new ``on_acquired``), so a listener that keeps one
        "paused" flag clears it.
        """
