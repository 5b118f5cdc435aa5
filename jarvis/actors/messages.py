"""Messages between the actors of a member. Immutable, so they can cross threads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Acquired", "Forget", "Lost", "Release", "ReleaseRequested", "Tick"]


@dataclass(frozen=True, slots=True)
class Tick:
    """Run one decision round. ``due`` is when it was scheduled (monotonic seconds)."""

    due: float


@dataclass(frozen=True, slots=True)
class Release:
    """Finish, flush and let go of the partition (handled at the tick boundary)."""


@dataclass(frozen=True, slots=True)
class Acquired:
    """The member now owns ``partition`` (kind and config) under ``epoch``."""

    partition: str
    kind: str
    config: Any
    epoch: int


@dataclass(frozen=True, slots=True)
class ReleaseRequested:
    """The member wants to give ownership ``epoch`` of ``partition`` up."""

    partition: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Lost:
    """Ownership ``epoch`` of ``partition`` ended without a handoff: stop acting for it."""

    partition: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Forget:
    """A partition actor has stopped; drop it from the supervisor's table."""

    partition: str
    epoch: int
