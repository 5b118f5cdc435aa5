"""Store work: which queue an item waits in, which queues an associate pulls from, and
in what order items leave.

Eligibility classes
    Every work item belongs to exactly one class ``(role, licence or none, bound or
    remotable)`` and waits in that class's queue. Every item of a class is eligible for
    exactly the same associates, so the head of a queue is the best item of that class
    for anyone who may take any of it: get-work only ever peeks queue heads, it never
    scans inside a queue. An associate's candidate classes in a store are its roles x
    (its licences + none) x (bound + remotable in its home store when it works there;
    remotable only in the other stores it is qualified for, and for remote associates).

Priority and aging
    A queue is ordered by a *start-by* time, earliest first: the latest moment the item
    can be started and still finish by its due time (``due_at - duration_s``, or
    ``policy.default_due_in_s`` after enqueue when it has no due time), never earlier
    than the moment it was enqueued, brought forward by ``priority * priority_step_s``.
    Because the order is by an absolute time, it ages by itself: an item enqueued at
    ``t`` has a start-by of at least ``t - 100 * priority_step_s``, so once the clock is
    that far past an old item's start-by no newly arriving work, however urgent, can get
    in front of it. Low-priority work is delayed by a flood of urgent work for a bounded
    time, never starved. Nothing has to be re-scored as time passes; what changes with
    time is how *urgent* an item is (start-by soon, or already past), which the store's
    score for the remote ranking re-evaluates every tick (``work_score.lua``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from jarvis.errors import BadInputError
from jarvis.models.city import ID_PATTERN
from jarvis.models.work import Associate, WorkItem

__all__ = [
    "EnqueueRules",
    "WorkClass",
    "WorkPolicy",
    "candidate_classes",
    "check_id",
    "item_class",
    "start_by",
]


_ID = re.compile(ID_PATTERN)


def check_id(value: object, what: str) -> str:
    """``value`` if it is a valid task or worker id, else BadInputError naming ``what``."""
    if not isinstance(value, str) or not _ID.match(value):
        raise BadInputError(f"invalid {what} id {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class WorkClass:
    """An eligibility class: every item in it may be taken by exactly the same people."""

    role: str
    licence: str | None
    remotable: bool

    @property
    def queue_name(self) -> str:
        """The class's queue key name inside its store (``|`` never occurs in an id)."""
        return f"work:q|{self.role}|{self.licence or ''}|{'r' if self.remotable else 'b'}"


def item_class(item: WorkItem) -> WorkClass:
    """The class ``item`` waits in."""
    return WorkClass(item.role, item.licence, item.remotable)


def candidate_classes(associate: Associate, store: str) -> tuple[WorkClass, ...]:
    """The classes of ``store`` whose items ``associate`` may take (may be empty).

    Matches :func:`jarvis.models.work.may_take` class by class: in its home store an
    in-store associate may take bound and remotable work; anywhere else (and always, for
    a remote associate) only remotable work of stores listed in ``associate.stores``.
    """
    in_store = not associate.remote and store == associate.home_store
    if not in_store and store not in associate.stores:
        return ()
    return _classes(associate.roles, associate.licences, in_store)


@lru_cache(maxsize=4096)
def _classes(
    roles: frozenset[str], licences: frozenset[str], in_store: bool
) -> tuple[WorkClass, ...]:
    def every() -> Iterator[WorkClass]:
        for role in sorted(roles):
            for licence in [None, *sorted(licences)]:
                yield WorkClass(role, licence, remotable=True)
                if in_store:
                    yield WorkClass(role, licence, remotable=False)

    return tuple(every())


@dataclass(frozen=True, slots=True)
class WorkPolicy:
    """How start-by times and a store's urgency are computed (see the module docstring)."""

    #: Seconds a priority point brings an item's start-by forward (100 points: 100 min).
    priority_step_s: float = 60.0
    #: Due time assumed for an item without ``due_at``, after it is enqueued.
    default_due_in_s: float = 3600.0
    #: Remotable items whose start-by falls within this horizon count double in a store's
    #: score for the remote ranking; those already past it count four times.
    urgent_horizon_s: float = 900.0

    def __post_init__(self) -> None:
        for name in ("priority_step_s", "default_due_in_s", "urgent_horizon_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value < float("inf")):
                raise BadInputError(f"WorkPolicy.{name} must be a finite number >= 0: {value!r}")


def start_by(item: WorkItem, enqueued_at: float, policy: WorkPolicy) -> float:
    """The item's queue score: its start-by time, brought forward by its priority."""
    due = item.due_at if item.due_at is not None else enqueued_at + policy.default_due_in_s
    latest_start = max(due - item.duration_s, enqueued_at)
    return latest_start - item.priority * policy.priority_step_s


@dataclass(frozen=True, slots=True)
class EnqueueRules:
    """What a store accepts: known roles and licences, and which roles may be remote.

    ``None`` means "any". A rule that refuses an item raises
    :class:`~jarvis.errors.BadInputError` naming the rule, before anything is written.
    """

    roles: frozenset[str] | None = None
    licences: frozenset[str] | None = None
    remotable_roles: frozenset[str] | None = None

    def check(self, item: WorkItem) -> None:
        if self.roles is not None and item.role not in self.roles:
            raise BadInputError(f"work item {item.id!r}: unknown role {item.role!r}")
        if (
            item.licence is not None
            and self.licences is not None
            and item.licence not in self.licences
        ):
            raise BadInputError(f"work item {item.id!r}: unknown licence {item.licence!r}")
        if (
            item.remotable
            and self.remotable_roles is not None
            and item.role not in self.remotable_roles
        ):
            raise BadInputError(
                f"work item {item.id!r}: role {item.role!r} work cannot be done remotely"
            )
