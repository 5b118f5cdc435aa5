"""Request and response bodies of the HTTP interface (JSON, validated by pydantic)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jarvis.models.city import ID_PATTERN
from jarvis.models.work import WorkItem

__all__ = [
    "ClaimOut",
    "EnqueueOut",
    "ErrorOut",
    "EventsIn",
    "EventsOut",
    "HeartbeatOut",
    "HolderIn",
    "QueueOut",
    "ReadyOut",
]

#: The most events one ``POST /v1/events`` may carry.
MAX_EVENTS_PER_REQUEST = 1000


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorOut(_Body):
    """Every 4xx/5xx answer: what went wrong, in words."""

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
    item: WorkItem
    associate: str
    store: str
    token: int
    claimed_at: float
    expires_at: float


class HeartbeatOut(_Body):
    expires_at: float


class QueueOut(_Body):
    store: str
    counts: dict[str, int]
    items: list[dict[str, Any]]


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
