"""What a member owns, where each release stands, and the listener calls that go with it.

The member's worker thread is the only writer; callers' threads read the owned
partitions and wait for a drain under the lock. Each partition held has one
:class:`Holding` (its epoch, when it was taken, and its :class:`Stage`), changed only
here. Each change calls the listener once, on the worker thread: ``on_acquired`` when a
partition is adopted, ``on_lost`` when it is gone without a handoff,
``on_release_requested`` when a release begins (or, with no listener, the release is
acknowledged at once).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jarvis.election.listener import OwnershipListener
from jarvis.election.partitions import PartitionInfo

__all__ = ["DrainOutcome", "Holding", "Holdings", "Stage"]

log = logging.getLogger(__name__)

#: A refused partition is not taken back for the cooldown times 2**(n-1), n refusals in a
#: row, at most this many times the cooldown.
MAX_BACKOFF_FACTOR = 32


class Stage(enum.Enum):
    """Where the release of one owned partition stands."""

    KEEPING = "keeping"  # acting for it
    RELEASING = "releasing"  # the listener was asked to stop it at its tick boundary
    DONE = "done"  # the listener has stopped it: delete the owner node


@dataclass(slots=True)
class Holding:
    """One partition this member owns."""

    epoch: int
    acquired_at: float
    stage: Stage = Stage.KEEPING
    #: Give it to another member (``release``, or the listener refused it).
    handoff: bool = False


@dataclass(frozen=True, slots=True)
class DrainOutcome:
    """How a drain ended: ``finished`` when nothing is owned any more; ``lost``: the
    partitions that were taken away (session expired, owner node gone) instead of being
    handed over while the member drained."""

    finished: bool
    lost: tuple[str, ...] = ()

    @property
    def graceful(self) -> bool:
        return self.finished and not self.lost


class Holdings:
    """A member's owned partitions (id -> :class:`Holding`) and its recent handoffs."""

    def __init__(
        self,
        member_id: str,
        listener: OwnershipListener | None,
        clock: Callable[[], float],
        cooldown: float,
    ) -> None:
        self._member_id = member_id
        self._listener = listener
        self._clock = clock
        self._cooldown = cooldown
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._held: dict[str, Holding] = {}
        self._draining = False
        self._drain_seen = False
        self._lost_in_drain: list[str] = []
        #: Partitions handed off -> (epoch given up, when).
        self._handoffs: dict[str, tuple[int, float]] = {}
        #: Partitions refused by the listener -> (not before, refusals in a row).
        self._refused: dict[str, tuple[float, int]] = {}

    # --- any thread -------------------------------------------------------------------

    def owned(self) -> dict[str, int]:
        with self._lock:
            return self._epochs()

    def _epochs(self) -> dict[str, int]:
        """Partition -> epoch (the caller holds the lock)."""
        return {p: h.epoch for p, h in self._held.items()}

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
            if self._changed.wait_for(lambda: predicate(self._epochs()), timeout):
                return self._epochs()
            return None

    def wait_drained(self, timeout: float) -> DrainOutcome:
        """Wait until the worker has seen the drain and nothing is owned."""
        with self._changed:
            finished = self._changed.wait_for(lambda: self._drain_seen and not self._held, timeout)
            return DrainOutcome(finished, tuple(self._lost_in_drain))

    # --- worker thread ----------------------------------------------------------------

    def __contains__(self, partition_id: object) -> bool:
        return partition_id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def epoch(self, partition_id: str) -> int | None:
        holding = self._held.get(partition_id)
        return None if holding is None else holding.epoch

    def ids(self) -> list[str]:
        return sorted(self._held)

    def keeping(self) -> dict[str, float]:
        """Owned partitions not being released -> when they were acquired."""
        return {p: h.acquired_at for p, h in self._held.items() if h.stage is Stage.KEEPING}

    def ready(self) -> list[tuple[str, int, bool]]:
        """Partitions whose owner node should be deleted: (id, epoch, handoff)."""
        return [
            (p, h.epoch, h.handoff) for p, h in sorted(self._held.items()) if h.stage is Stage.DONE
        ]

    def begin_drain(self, why: str) -> None:
        with self._changed:
            if not self._drain_seen:
                log.info("member %s draining (%s)", self._member_id, why)
            self._draining = True
            self._drain_seen = True
            self._changed.notify_all()

    def adopt(self, info: PartitionInfo, epoch: int) -> None:
        with self._changed:
            self._held[info.id] = Holding(epoch, self._clock())
            self._changed.notify_all()
        log.info(
            "member %s owns %s (epoch %d)",
            self._member_id,
            info.id,
            epoch,
            extra={"member": self._member_id, "partition": info.id, "epoch": epoch},
        )
        self._notify("on_acquired", lambda listener: listener.on_acquired(info, epoch))

    def lose(self, partition_id: str, why: str, level: int = logging.WARNING) -> None:
        context = self._context(partition_id)
        holding = self._forget(partition_id, lost=True)
        if holding is None:
            return
        log.log(level, "member %s lost %s: %s", self._member_id, partition_id, why, extra=context)
        self._notify("on_lost", lambda listener: listener.on_lost(partition_id, holding.epoch))

    def lose_all(self, why: str, level: int = logging.WARNING) -> None:
        for partition_id in self.ids():
            self.lose(partition_id, why, level)

    def begin_release(self, partition_id: str, handoff: bool = False) -> None:
        """Start releasing; ``handoff``: the partition should go to another member."""
        holding = self._held.get(partition_id)
        if holding is None:
            return
        holding.handoff = holding.handoff or handoff
        if holding.stage is not Stage.KEEPING:
            return
        holding.stage = Stage.RELEASING
        log.info(
            "member %s releasing %s",
            self._member_id,
            partition_id,
            extra=self._context(partition_id),
        )
        epoch = holding.epoch
        if self._listener is None:
            holding.stage = Stage.DONE
        else:
            self._notify(
                "on_release_requested",
                lambda listener: listener.on_release_requested(partition_id, epoch),
            )

    def release_done(self, partition_id: str, epoch: int) -> None:
        """The listener stopped ownership ``epoch``: its owner node may go. An answer
        about another ownership (an earlier one, late) or for a partition not being
        released changes nothing."""
        holding = self._held.get(partition_id)
        if holding is None or holding.epoch != epoch or holding.stage is not Stage.RELEASING:
            log.info(
                "member %s: ignoring release_done for %s epoch %s (not being released)",
                self._member_id,
                partition_id,
                epoch,
            )
            return
        holding.stage = Stage.DONE
        self._refused.pop(partition_id, None)  # it ran: the next refusal starts over

    def refuse(self, partition_id: str, epoch: int, reason: str) -> None:
        """The listener cannot run ownership ``epoch``: hand it off, and do not take the
        partition back before a backoff (doubling with each refusal in a row)."""
        holding = self._held.get(partition_id)
        if holding is None or holding.epoch != epoch:
            return
        _, count = self._refused.get(partition_id, (0.0, 0))
        count += 1
        delay = self._cooldown * min(2 ** (count - 1), MAX_BACKOFF_FACTOR)
        self._refused[partition_id] = (self._clock() + delay, count)
        log.warning(
            "member %s gives %s up, it cannot run it (%s); not taking it back for %.1f s",
            self._member_id,
            partition_id,
            reason,
            delay,
            extra=self._context(partition_id),
        )
        holding.handoff = True
        holding.stage = Stage.DONE

    def refused(self) -> set[str]:
        """Partitions this member must not take now (refused, still in their backoff)."""
        now = self._clock()
        return {p for p, (until, _) in self._refused.items() if now < until}

    def delete_failed(self, partition_id: str) -> None:
        """The handoff could not name the partition in our member node (it is gone):
        delete the owner node alone next time."""
        holding = self._held.get(partition_id)
        if holding is not None:
            holding.handoff = False

    def record_handoff(self, partition_id: str, epoch: int) -> None:
        self._handoffs[partition_id] = (epoch, self._clock())

    def recent_handoffs(self) -> dict[str, int]:
        """Partitions handed off less than a cooldown ago -> the epoch given up."""
        now = self._clock()
        for partition_id, (_, at) in list(self._handoffs.items()):
            if now - at >= self._cooldown:
                del self._handoffs[partition_id]
        return {p: epoch for p, (epoch, _) in self._handoffs.items()}

    def released(self, partition_id: str) -> None:
        """The owner node is deleted: the handoff is complete."""
        context = self._context(partition_id)
        holding = self._forget(partition_id, lost=False)
        if holding is None:
            return
        log.info("member %s released %s", self._member_id, partition_id, extra=context)

    def suspended(self) -> None:
        self._notify("on_suspended", lambda listener: listener.on_suspended())

    def resumed(self) -> None:
        self._notify("on_resumed", lambda listener: listener.on_resumed())

    def _context(self, partition_id: str) -> dict[str, Any]:
        """Log context of a partition this member holds (see jarvis.logs)."""
        return {
            "member": self._member_id,
            "partition": partition_id,
            "epoch": self.epoch(partition_id),
        }

    def _forget(self, partition_id: str, lost: bool) -> Holding | None:
        with self._changed:
            holding = self._held.pop(partition_id, None)
            if holding is None:
                return None
            if lost and self._draining:
                self._lost_in_drain.append(partition_id)
            self._changed.notify_all()
        return holding

    def _notify(self, what: str, call: Callable[[OwnershipListener], None]) -> None:
        """Call the listener; a failing listener is logged, never raised."""
        if self._listener is None:
            return
        try:
            call(self._listener)
        except Exception:
            log.exception("member %s: listener %s failed", self._member_id, what)
