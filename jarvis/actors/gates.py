"""What a partition actor checks right before its fenced commit.

Two flags, both set from the member's worker thread without waiting for any actor's
mailbox, so a tick already running sees them before it commits:

- :class:`Gate`, member-wide: closed while the ZooKeeper connection is SUSPENDED;
- :class:`LostFlags`, one per ownership (partition, epoch): set the moment the member
  says the ownership is lost (session lost, owner node gone, step-down).

Redis fencing stays the last line: a tick that checked the flags just before they
flipped is refused by the epoch check in the commit script once another member has
written.
"""

from __future__ import annotations

import threading

__all__ = ["Gate", "LostFlags"]


class Gate:
    """Whether partition actors may commit: false while ZooKeeper is SUSPENDED."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()

    def __call__(self) -> bool:
        return self._open.is_set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()


class LostFlags:
    """One flag per ownership (partition, epoch); any thread may set or read them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[tuple[str, int], threading.Event] = {}

    def flag(self, partition: str, epoch: int) -> threading.Event:
        """The flag of one ownership (created unset, unless already marked lost)."""
        with self._lock:
            return self._flags.setdefault((partition, epoch), threading.Event())

    def mark_lost(self, partition: str, epoch: int) -> None:
        self.flag(partition, epoch).set()

    def forget(self, partition: str, epoch: int) -> None:
        """Drop the flag of an ownership nothing runs any more."""
        with self._lock:
            self._flags.pop((partition, epoch), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._flags)
