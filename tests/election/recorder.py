"""A listener that records what members tell it, on one shared timeline.

Every call is appended, under one lock, to a :class:`Timeline` shared by all the members
of a test, so the order across members is the order ZooKeeper decided. A release is
acknowledged at once (``release_done``), as an actor finishing its tick would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from jarvis.election import Member, PartitionInfo

__all__ = ["Entry", "Recorder", "Timeline"]


@dataclass(frozen=True)
class Entry:
    member: str
    call: str  # acquired, release_requested, released, lost, suspended, resumed
    partition: str | None = None
    epoch: int | None = None


class Timeline:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Entry] = []

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def of(self, member: str) -> list[Entry]:
        return [e for e in self.entries() if e.member == member]

    def acquisitions(self, since: int = 0) -> list[Entry]:
        return [e for e in self.entries()[since:] if e.call == "acquired"]

    def double_ownership(self) -> list[str]:
        """Every moment a member acquired a partition another member still acted for,
        and every epoch that did not grow; empty when ownership was always exclusive."""
        holder: dict[str, str] = {}
        last_epoch: dict[str, int] = {}
        problems = []
        for e in self.entries():
            if e.partition is None:
                continue
            if e.call == "acquired":
                assert e.epoch is not None
                other = holder.get(e.partition)
                if other is not None and other != e.member:
                    problems.append(f"{e.member} acquired {e.partition} while {other} held it")
                if e.epoch <= last_epoch.get(e.partition, -1) and other != e.member:
                    problems.append(f"{e.partition}: epoch {e.epoch} after {last_epoch[e.partition]}")
                last_epoch[e.partition] = max(e.epoch, last_epoch.get(e.partition, -1))
                holder[e.partition] = e.member
            elif e.call in ("released", "lost") and holder.get(e.partition) == e.member:
                del holder[e.partition]
        return problems


class Recorder:
    """An OwnershipListener for one member; set ``member`` before starting it."""

    def __init__(self, name: str, timeline: Timeline) -> None:
        self.name = name
        self.timeline = timeline
        self.member: Member | None = None

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        self.timeline.add(Entry(self.name, "acquired", partition.id, epoch))

    def on_release_requested(self, partition_id: str) -> None:
        self.timeline.add(Entry(self.name, "release_requested", partition_id))
        assert self.member is not None
        self.timeline.add(Entry(self.name, "released", partition_id))
        self.member.release_done(partition_id)

    def on_lost(self, partition_id: str) -> None:
        self.timeline.add(Entry(self.name, "lost", partition_id))

    def on_suspended(self) -> None:
        self.timeline.add(Entry(self.name, "suspended"))

    def on_resumed(self) -> None:
        self.timeline.add(Entry(self.name, "resumed"))
