"""Request and response bodies of the HTTP interface (JSON, validated by pydantic)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jarvis.models.city import ID_PATTERN
from jarvis.models.work import WorkItem

__all__ = [
    "MAX_EVENTS_PER_REQUEST",
    "MAX_WAIT_S",
    "ClaimOut",
    "DeadItemOut",
    "DeadOut",
    "EnqueueOut",
    "ErrorOut",
    "EventsIn",
    "EventsOut",
    "HeartbeatOut",
    "HolderIn",
    "MemberOut",
    "PartitionOut",
    "QueueOut",
    "QueuedOut",
    "ReadyOut",
    "StatusOut",
    "WorkUpdateIn",
]

#: The most events one ``POST /v1/events`` may carry.
MAX_EVENTS_PER_REQUEST = 1000
#: The longest a get-work request may wait for work (``?wait=``), seconds.
MAX_WAIT_S = 10.0


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorOut(_Body):
    """Every 4xx/5xx answer: ``code``, stable and machine-readable (the table in the API
    description lists them all), and what went wrong in words."""

    code: str = Field(description="stable machine-readable error code (see the API description)")
    error: str
    detail: Any = None


class EnqueueOut(_Body):
    item: str
    queued: bool


class HolderIn(_Body):
    """Who acts on a claim: the associate, and optionally the claim's token."""

    associate: str = Field(pattern=ID_PATTERN)
    token: int | None = Field(default=None, ge=0)


class ClaimOut(_Body):
    """A claim: ``token`` numbers the store's claims in order (pass it back to act on
    this very claim); ``start_by`` is the item's queue score (earliest leaves first)."""

    item: WorkItem
    associate: str
    store: str
    token: int
    claimed_at: float
    expires_at: float
    start_by: float


class HeartbeatOut(_Body):
    expires_at: float


class StatusOut(_Body):
    """What became of an item, or where it is: ``done``, ``queued``, ``claimed``,
    ``dead`` (used up its attempts), ``discarded`` or ``cancelled``."""

    item: str
    status: str


class WorkUpdateIn(_Body):
    """What a PATCH of a work item changes (at least one field; others stay)."""

    priority: int | None = Field(default=None, ge=0, le=100)
    due_at: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    duration_s: float | None = Field(default=None, gt=0, le=86400, allow_inf_nan=False)

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class QueuedOut(_Body):
    item: WorkItem
    start_by: float


class QueueOut(_Body):
    """A store's first queued items, next first, and its counts (queued, claimed, done,
    submitted, remotable, lapsed, released)."""

    store: str
    counts: dict[str, int]
    items: list[QueuedOut]


class DeadItemOut(_Body):
    """An item in a store's dead set: its claims so far, when and why the last one came
    back (``lapsed`` or ``released``), and its history (each entry: ``a`` associate,
    ``t`` claim token, ``c`` claimed at, ``r`` returned at, ``why``)."""

    item: WorkItem
    attempts: int
    died_at: float
    why: str
    history: list[dict[str, Any]]


class DeadOut(_Body):
    """A store's dead set (oldest first) and its size."""

    store: str
    size: int
    items: list[DeadItemOut]


class PartitionOut(_Body):
    """A partition and its owner (owner, zone, epoch and since are null when unowned)."""

    partition: str
    kind: str
    owner: str | None
    zone: str | None
    epoch: int | None
    since: float | None
    pin: str | None = None  # "member M" or "zone Z" from the partition's config
    moving_to: str | None = None  # a pending `jarvis move`
    frozen: bool = False  # the cluster is frozen (`jarvis freeze`)
    #: What balance weighs it: its config's weight, else what its owner measured, else 1.
    weight: float = 1.0


class MemberOut(_Body):
    member: str
    zone: str
    partitions: int
    draining: bool
    version: str
    host: str
    pid: int
    frozen: bool = False
    #: The most partitions the member takes (None: no limit).
    max_partitions: int | None = None
    #: The total weight of the partitions it owns.
    weight: float = 0.0


class EventsIn(_Body):
    """A batch of events (each validated against the event schemas of docs/events.md)."""

    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


class EventsOut(_Body):
    accepted: int


class ReadyOut(_Body):
    ready: bool
    zookeeper: bool
    redis: bool
    draining: bool
    #: The member runs its ticks late (by more than a tick interval); it stays ready.
    overloaded: bool = False
    #: How late the oldest tick waiting for a tick worker is, seconds.
    tick_lag_seconds: float = 0.0
    #: Partitions this member owns, and the most it takes.
    partitions: int = 0
    max_partitions: int | None = None
