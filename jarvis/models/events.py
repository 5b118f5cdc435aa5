"""Events: what producers tell a partition, as JSON on its incoming stream.

Every event is one JSON object with the envelope fields ``id`` (chosen by the producer,
unique per event: applying is idempotent by it), ``partition``, ``at`` (seconds since
the Unix epoch, when it happened) and ``type``, which selects the rest of the schema::

    {"id": "e-17", "partition": "paris", "at": 1700000000.0,
     "type": "order_picked_up", "order_id": "o-42"}

Unknown fields are refused everywhere. :func:`parse_event` turns raw JSON into one of
the event classes below or raises :class:`~jarvis.errors.BadInputError` with a reason a
person can read. ``docs/events.md`` documents each schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from jarvis.errors import BadInputError
from jarvis.models.city import ID_PATTERN, Courier, Order
from jarvis.models.geo import Point
from jarvis.models.ids import NAME_PATTERN
from jarvis.models.work import WorkItem

__all__ = [
    "CITY_EVENT_TYPES",
    "EVENT_ID_PATTERN",
    "STORE_EVENT_TYPES",
    "CityEvent",
    "CourierMoved",
    "CourierOffline",
    "CourierOnline",
    "Event",
    "EventBase",
    "OfferAccepted",
    "OrderCancelled",
    "OrderCreated",
    "OrderDeclined",
    "OrderDelivered",
    "OrderPickedUp",
    "StoreEvent",
    "WorkCancelled",
    "WorkCompleted",
    "WorkSubmitted",
    "WorkUpdated",
    "parse_event",
    "validate_event",
]

#: Event ids: 1-128 printable characters without spaces (a UUID fits).
EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/+=-]{0,127}$"
#: Partition ids follow the one naming rule of :mod:`jarvis.models.ids`.
PARTITION_PATTERN = NAME_PATTERN

TaskId = Annotated[str, Field(pattern=ID_PATTERN)]


class EventBase(BaseModel):
    """The envelope every event carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=EVENT_ID_PATTERN)
    partition: str = Field(pattern=PARTITION_PATTERN)
    at: float = Field(ge=0, allow_inf_nan=False)


# -- city partitions ---------------------------------------------------------------------


class OrderCreated(EventBase):
    """A new delivery order enters the open pool."""

    type: Literal["order_created"] = "order_created"
    order: Order


class OrderCancelled(EventBase):
    """The order is withdrawn; if assigned and not picked up, its courier slot is freed."""

    type: Literal["order_cancelled"] = "order_cancelled"
    order_id: TaskId


class OrderPickedUp(EventBase):
    """The assigned courier has the order; it stays theirs until delivered."""

    type: Literal["order_picked_up"] = "order_picked_up"
    order_id: TaskId


class OrderDelivered(EventBase):
    """The order is done; its courier slot is freed."""

    type: Literal["order_delivered"] = "order_delivered"
    order_id: TaskId


class OrderDeclined(EventBase):
    """The courier declines an order assigned to it and not picked up: the order returns
    to the open pool, and that courier is not offered it again for a cooldown."""

    type: Literal["order_declined"] = "order_declined"
    order_id: TaskId
    courier_id: TaskId
    reason: str | None = Field(default=None, max_length=200)


class OfferAccepted(EventBase):
    """The courier accepts an order offered to it (a city in acceptance mode): the offer
    becomes an assignment and no longer expires."""

    type: Literal["offer_accepted"] = "offer_accepted"
    order_id: TaskId
    courier_id: TaskId


class CourierOnline(EventBase):
    """A courier starts (or updates) a shift: the full record, which must be online."""

    type: Literal["courier_online"] = "courier_online"
    courier: Courier

    @model_validator(mode="after")
    def _must_be_online(self) -> CourierOnline:
        if not self.courier.online:
            raise ValueError("courier_online carries a courier with online=false")
        return self


class CourierOffline(EventBase):
    """A courier stops: assigned orders not yet picked up return to the open pool."""

    type: Literal["courier_offline"] = "courier_offline"
    courier_id: TaskId


class CourierMoved(EventBase):
    """A courier's new position."""

    type: Literal["courier_moved"] = "courier_moved"
    courier_id: TaskId
    position: Point


# -- store partitions --------------------------------------------------------------------


class WorkSubmitted(EventBase):
    """A work item joins its store's queue."""

    type: Literal["work_submitted"] = "work_submitted"
    item: WorkItem


class WorkCompleted(EventBase):
    """An associate finished a work item."""

    type: Literal["work_completed"] = "work_completed"
    item_id: TaskId
    associate_id: TaskId


class WorkCancelled(EventBase):
    """The work item is withdrawn, queued, claimed or dead (as ``DELETE`` over HTTP)."""

    type: Literal["work_cancelled"] = "work_cancelled"
    item_id: TaskId


class WorkUpdated(EventBase):
    """The work item's priority, due time or duration change in place (as ``PATCH``
    over HTTP). At least one of them is given; ``due_at`` may be set but not cleared."""

    type: Literal["work_updated"] = "work_updated"
    item_id: TaskId
    priority: int | None = Field(default=None, ge=0, le=100)
    due_at: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    duration_s: float | None = Field(default=None, gt=0, le=86400, allow_inf_nan=False)

    @model_validator(mode="after")
    def _changes_something(self) -> WorkUpdated:
        if not self.changes():
            raise ValueError("work_updated changes nothing: give priority, due_at or duration_s")
        return self

    def changes(self) -> dict[str, int | float]:
        """The fields this event sets, by name."""
        fields = {"priority": self.priority, "due_at": self.due_at, "duration_s": self.duration_s}
        return {name: value for name, value in fields.items() if value is not None}


CityEvent: TypeAlias = (
    OrderCreated
    | OrderCancelled
    | OrderPickedUp
    | OrderDelivered
    | OrderDeclined
    | OfferAccepted
    | CourierOnline
    | CourierOffline
    | CourierMoved
)
StoreEvent: TypeAlias = WorkSubmitted | WorkCompleted | WorkCancelled | WorkUpdated
Event: TypeAlias = Annotated[CityEvent | StoreEvent, Field(discriminator="type")]

CITY_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "order_created",
        "order_cancelled",
        "order_picked_up",
        "order_delivered",
        "order_declined",
        "offer_accepted",
        "courier_online",
        "courier_offline",
        "courier_moved",
    }
)
STORE_EVENT_TYPES: frozenset[str] = frozenset(
    {"work_submitted", "work_completed", "work_cancelled", "work_updated"}
)

_TYPES = CITY_EVENT_TYPES | STORE_EVENT_TYPES
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
# The adapter's validator itself: TypeAdapter.validate_json only checks its keywords and
# calls it, per event.
_VALIDATE_JSON = _ADAPTER.validator.validate_json
_CLASSES = (
    OrderCreated,
    OrderCancelled,
    OrderPickedUp,
    OrderDelivered,
    OrderDeclined,
    OfferAccepted,
    CourierOnline,
    CourierOffline,
    CourierMoved,
    WorkSubmitted,
    WorkCompleted,
    WorkCancelled,
    WorkUpdated,
)


def _reason(error: ValidationError) -> str:
    """One line per problem: ``field.path: message``."""
    parts = []
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in problem["loc"]) or "event"
        message = problem["msg"]
        if problem["type"] == "union_tag_not_found":
            message = f"field 'type' is required (one of: {', '.join(sorted(_TYPES))})"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def parse_event(raw: str | bytes) -> Event:
    """The event encoded by ``raw`` JSON; BadInputError with a readable reason if bad."""
    try:
        event: Event = _VALIDATE_JSON(raw)
    except ValidationError as exc:
        raise BadInputError(f"invalid event: {_reason(exc)}") from exc
    return event


def validate_event(data: Any) -> Event:
    """The event described by ``data`` (a mapping, JSON text or an event already)."""
    if isinstance(data, _CLASSES):
        return data
    if isinstance(data, str | bytes):
        return parse_event(data)
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise BadInputError(f"invalid event: {_reason(exc)}") from exc
