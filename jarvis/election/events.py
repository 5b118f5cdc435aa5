"""What a member's worker thread is told, by kazoo's threads and by callers.

Each is an immutable message put on the member's queue; the worker handles them in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from kazoo.protocol.states import KazooState

__all__ = [
    "Event",
    "HandOff",
    "Refused",
    "ReleaseDone",
    "ServerLeft",
    "StartDrain",
    "StateChanged",
    "Stop",
    "Watched",
]


@dataclass(frozen=True, slots=True)
class StateChanged:
    """kazoo's connection state changed (SUSPENDED, LOST or CONNECTED)."""

    state: KazooState


@dataclass(frozen=True, slots=True)
class Watched:
    """A watched node (or its children) changed."""

    path: str


@dataclass(frozen=True, slots=True)
class HandOff:
    """Give this partition up to another member (through the listener)."""

    partition: str


@dataclass(frozen=True, slots=True)
class ReleaseDone:
    """The listener has stopped and flushed ownership ``epoch`` of this partition."""

    partition: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Refused:
    """The listener cannot run ownership ``epoch`` of this partition (``reason``)."""

    partition: str
    epoch: int
    reason: str


@dataclass(frozen=True, slots=True)
class StartDrain:
    """Mark the member draining and release everything."""


@dataclass(frozen=True, slots=True)
class ServerLeft:
    """The watchdog left a ZooKeeper server that stopped answering (``host``:``port``)."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop the worker."""


Event = StateChanged | Watched | HandOff | ReleaseDone | Refused | StartDrain | ServerLeft | Stop
