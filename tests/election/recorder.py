"""A listener that records what members tell it, on one shared timeline.

Every call is appended, under one lock, to a :class:`Timeline` shared by all the members
of a test, so the order across members is the order ZooKeeper decided. Tests wait for
what they expect with :meth:`Timeline.wait_until`, woken by each new entry. A release is
acknowledged at once (``release_done``), as an actor finishing its tick would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest

from jarvis.election import Member, PartitionInfo

__all__ = ["Entry", "Recorder", "Timeline"]

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    member: str
    call: str  # acquired, release_requested, released, lost, suspended, resumed
    partition: str | None = None
    epoch: int | None = None


class Timeline:
    def __init__(self) -> None:
        # Reentrant, so a condition given to wait_until may read the timeline.
        self._lock = threading.RLock()
        self._added = threading.Condition(self._lock)
        self._entries: list[Entry] = []

    def add(self, entry: Entry) -> None:
        with self._added:
            self._entries.append(entry)
            self._added.notify_all()

    def wait_until(self, condition: Callable[[], T], timeout: float, what: str) -> T:
        """The first truthy value of ``condition()``, checked at each new entry; fails
        the test if there is none within ``timeout`` seconds."""
        with self._added:
            value = self._added.wait_for(condition, timeout)
            if not value:
                pytest.fail(f"within {timeout:.1f} s, never: {what} (timeline: {self._entries})")
            return value

    def wait_heard(self, member: str, owned: dict[str, int], timeout: float = 5.0) -> None:
        """Wait until ``member``'s listener was told of every ownership in ``owned``
        (a member adopts a partition first, then tells its listener)."""

        def heard() -> bool:
            told = {(e.partition, e.epoch) for e in self.acquisitions() if e.member == member}
            return told >= set(owned.items())

        self.wait_until(heard, timeout, f"{member}'s listener heard of {sorted(owned)}")

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def of(self, member: str) -> list[Entry]:
        return [e for e in self.entries() if e.member == member]

    def acquisitions(self, since: int = 0) -> list[Entry]:
        return [e for e in self.entries()[since:] if e.call == "acquired"]

    def double_ownership(self) -> list[str]:
        """Every moment two members could act for one partition, and every epoch that
        went backwards; empty when ownership was always exclusive.

        A member acts for a partition from ``acquired`` until ``released`` or ``lost``,
        except while it is paused (between ``suspended`` and ``resumed``): a paused owner
        commits nothing, and Redis fencing refuses it if it tries.
        """
        holders: dict[str, set[str]] = {}
        paused: set[str] = set()
        last: dict[str, tuple[int, str]] = {}
        problems = []

        def acting(partition: str) -> set[str]:
            return {m for m in holders.get(partition, set()) if m not in paused}

        for e in self.entries():
            if e.call == "suspended":
                paused.add(e.member)
            elif e.call == "resumed":
                paused.discard(e.member)
                for partition, members in holders.items():
                    if e.member in members and len(acting(partition)) > 1:
                        problems.append(f"{e.member} resumed {partition} held by another")
            elif e.call == "acquired" and e.partition is not None and e.epoch is not None:
                others = acting(e.partition) - {e.member}
                if others and e.member not in paused:
                    problems.append(f"{e.member} acquired {e.partition} while {others} held it")
                epoch, member = last.get(e.partition, (-1, ""))
                if e.epoch < epoch or (e.epoch == epoch and member != e.member):
                    problems.append(f"{e.partition}: epoch {e.epoch} after {epoch}")
                last[e.partition] = (e.epoch, e.member)
                holders.setdefault(e.partition, set()).add(e.member)
            elif e.call in ("released", "lost") and e.partition is not None:
                holders.get(e.partition, set()).discard(e.member)
        return problems


class Recorder:
    """An OwnershipListener for one member; set ``member`` before starting it."""

    def __init__(self, name: str, timeline: Timeline) -> None:
        self.name = name
        self.timeline = timeline
        self.member: Member | None = None

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        self.timeline.add(Entry(self.name, "acquired", partition.id, epoch))

    def on_release_requested(self, partition_id: str, epoch: int) -> None:
        self.timeline.add(Entry(self.name, "release_requested", partition_id, epoch))
        assert self.member is not None
        self.timeline.add(Entry(self.name, "released", partition_id, epoch))
        self.member.release_done(partition_id, epoch)

    def on_lost(self, partition_id: str, epoch: int) -> None:
        self.timeline.add(Entry(self.name, "lost", partition_id, epoch))

    def on_suspended(self) -> None:
        self.timeline.add(Entry(self.name, "suspended"))

    def on_resumed(self) -> None:
        self.timeline.add(Entry(self.name, "resumed"))
