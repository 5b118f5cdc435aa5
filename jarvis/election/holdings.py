"""What a member owns, and the listener calls that go with every change.

The member's worker thread is the only writer; callers' threads read the owned
partitions and wait for a drain under the lock. Each change calls the listener once, on
the worker thread: ``on_acquired`` when a partition is adopted, ``on_lost`` when it is
gone without a handoff, ``on_release_requested`` when a release begins (or, with no
listener, the release is acknowledged at once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from jarvis.election.listener import OwnershipListener
from jarvis.election.partitions import PartitionInfo

__all__ = ["Holdings"]

log = logging.getLogger(__name__)


class Holdings:
    """A member's owned partitions (id -> epoch) and their releases in progress."""

    def __init__(
        self, member_id: str, listener: OwnershipListener | None, clock: Callable[[], float]
    ) -> None:
        self._member_id = member_id
        self._listener = listener
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._owned: dict[str, int] = {}
        self._draining = False
        self._drain_seen = False
        # The worker's own bookkeeping.
        self.acquired_at: dict[str, float] = {}
        self.releasing: set[str] = set()
        self.done: set[str] = set()
        #: Releases asked for with ``release`` (handed to another member).
        self.handing_off: set[str] = set()
        #: Partitions handed off -> (epoch given up, when).
        self.handoffs: dict[str, tuple[int, float]] = {}

    # --- any thread -------------------------------------------------------------------

    def owned(self) -> dict[str, int]:
        with self._lock:
            return dict(self._owned)

    @property
    def draining(self) -> bool:
        with self._lock:
            return self._draining

    def request_drain(self) -> None:
        with self._lock:
            self._draining = True

    def wait_owned(
        self, predicate: Callable[[dict[str, int]], bool], timeout: float
    ) -> dict[str, int] | None:
        """Wait until ``predicate(owned)`` holds; the owned partitions then, or None if it
        did not hold within ``timeout`` seconds. Woken by every change, never polled."""
        with self._changed:
            if self._changed.wait_for(lambda: predicate(dict(self._owned)), timeout):
                return dict(self._owned)
            return None

    def wait_drained(self, timeout: float) -> bool:
        """Wait until the worker has seen the drain and nothing is owned."""
        with self._changed:
            return self._changed.wait_for(lambda: self._drain_seen and not self._owned, timeout)

    # --- worker thread ----------------------------------------------------------------

    def __contains__(self, partition_id: object) -> bool:
        return partition_id in self._owned

    def __len__(self) -> int:
        return len(self._owned)

    def epoch(self, partition_id: str) -> int | None:
        return self._owned.get(partition_id)

    def ids(self) -> list[str]:
        return sorted(self._owned)

    def keeping(self) -> dict[str, float]:
        """Owned partitions not being released -> when they were acquired."""
        now = self._clock()
        return {p: self.acquired_at.get(p, now) for p in self._owned if p not in self.releasing}

    def begin_drain(self, why: str) -> None:
        with self._changed:
            if not self._drain_seen:
                log.info("member %s draining (%s)", self._member_id, why)
            self._draining = True
            self._drain_seen = True
            self._changed.notify_all()

    def adopt(self, info: PartitionInfo, epoch: int) -> None:
        with self._changed:
            self._owned[info.id] = epoch
            self._changed.notify_all()
        self.acquired_at[info.id] = self._clock()
        log.info(
            "member %s owns %s (epoch %d)",
            self._member_id,
            info.id,
            epoch,
            extra={"member": self._member_id, "partition": info.id, "epoch": epoch},
        )
        self.call("on_acquired", info, epoch)

    def lose(self, partition_id: str, why: str, level: int = logging.WARNING) -> None:
        context = self._context(partition_id)
        if not self._forget(partition_id):
            return
        log.log(level, "member %s lost %s: %s", self._member_id, partition_id, why, extra=context)
        self.call("on_lost", partition_id)

    def lose_all(self, why: str, level: int = logging.WARNING) -> None:
        for partition_id in self.ids():
            self.lose(partition_id, why, level)

    def begin_release(self, partition_id: str, handoff: bool = False) -> None:
        """Start releasing; ``handoff``: the partition should go to another member."""
        if partition_id not in self._owned:
            return
        if handoff:
            self.handing_off.add(partition_id)
        if partition_id in self.releasing:
            return
        self.releasing.add(partition_id)
        log.info(
            "member %s releasing %s",
            self._member_id,
            partition_id,
            extra=self._context(partition_id),
        )
        if self._listener is None:
            self.done.add(partition_id)
        else:
            self.call("on_release_requested", partition_id)

    def recent_handoffs(self, within: float) -> dict[str, int]:
        """Partitions handed off less than ``within`` s ago -> the epoch given up."""
        now = self._clock()
        for partition_id, (_, at) in list(self.handoffs.items()):
            if now - at >= within:
                del self.handoffs[partition_id]
        return {p: epoch for p, (epoch, _) in self.handoffs.items()}

    def released(self, partition_id: str) -> None:
        """The owner node is deleted: the handoff is complete."""
        context = self._context(partition_id)
        if self._forget(partition_id):
            log.info("member %s released %s", self._member_id, partition_id, extra=context)

    def _context(self, partition_id: str) -> dict[str, Any]:
        """Log context of a partition this member holds (see jarvis.logs)."""
        return {
            "member": self._member_id,
            "partition": partition_id,
            "epoch": self._owned.get(partition_id),
        }

    def _forget(self, partition_id: str) -> bool:
        with self._changed:
            if self._owned.pop(partition_id, None) is None:
                return False
            self._changed.notify_all()
        self.acquired_at.pop(partition_id, None)
        self.releasing.discard(partition_id)
        self.done.discard(partition_id)
        self.handing_off.discard(partition_id)
        return True

    def call(self, name: str, *args: Any) -> None:
        """Call the listener's ``name``; a failing listener is logged, never raised."""
        if self._listener is None:
            return
        try:
            getattr(self._listener, name)(*args)
        except Exception:
            log.exception("member %s: listener %s%r failed", self._member_id, name, args)
