"""Event schemas: every type round-trips through JSON; bad input gets a readable reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jarvis.errors import BadInputError
from jarvis.models.events import (
    CITY_EVENT_TYPES,
    STORE_EVENT_TYPES,
    CourierMoved,
    OrderCreated,
    parse_event,
    validate_event,
)
from jarvis.models.geo import Point
from jarvis.models.work import WorkItem
from tests.store.builders import courier, event, order

ENVELOPE: dict[str, Any] = {"id": "e-1", "partition": "paris", "at": 1700000000.5}

EXAMPLES: dict[str, dict[str, Any]] = {
    "order_created": {"order": order("o1").model_dump(mode="json")},
    "order_cancelled": {"order_id": "o1"},
    "order_picked_up": {"order_id": "o1"},
    "order_delivered": {"order_id": "o1"},
    "order_declined": {"order_id": "o1", "courier_id": "c1", "reason": "too far"},
    "offer_accepted": {"order_id": "o1", "courier_id": "c1"},
    "courier_online": {"courier": courier("c1", capacity=3).model_dump(mode="json")},
    "courier_offline": {"courier_id": "c1"},
    "courier_moved": {"courier_id": "c1", "position": {"lat": 1.5, "lon": -2.25}},
    "work_submitted": {
        "item": WorkItem(id="w1", store="s1", role="picker").model_dump(mode="json")
    },
    "work_completed": {"item_id": "w1", "associate_id": "a1"},
    "work_cancelled": {"item_id": "w1"},
    "work_updated": {"item_id": "w1", "priority": 7, "due_at": 1700000600.0},
}


def test_examples_cover_every_event_type() -> None:
    assert set(EXAMPLES) == CITY_EVENT_TYPES | STORE_EVENT_TYPES


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_event_type_round_trips_through_json(kind: str) -> None:
    raw = json.dumps({**ENVELOPE, "type": kind, **EXAMPLES[kind]})
    parsed = parse_event(raw)
    assert parsed.type == kind
    assert parsed.id == "e-1"
    assert parse_event(parsed.model_dump_json()) == parsed
    assert parse_event(raw.encode()) == parsed


def test_validate_event_accepts_mappings_text_and_events() -> None:
    built = event("paris", "courier_moved", courier_id="c1", position={"lat": 1, "lon": 2})
    assert isinstance(built, CourierMoved)
    assert built.position == Point(lat=1, lon=2)
    assert validate_event(built) is built
    assert validate_event(built.model_dump_json()) == built
    assert validate_event(built.model_dump()) == built


def test_events_can_be_built_in_python_without_naming_the_type() -> None:
    created = OrderCreated(id="e", partition="p", at=1.0, order=order("o1"))
    assert parse_event(created.model_dump_json()) == created


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "Invalid JSON"),
        ('["a list"]', "event"),
        (json.dumps(ENVELOPE), "field 'type' is required (one of: courier_moved, "),
        (json.dumps({**ENVELOPE, "type": "teleported"}), "does not match any of the expected"),
        (json.dumps({**ENVELOPE, "type": "order_cancelled"}), "order_cancelled.order_id: Field"),
        (
            json.dumps({**ENVELOPE, "type": "order_cancelled", "order_id": "o1", "x": 1}),
            "order_cancelled.x: Extra inputs are not permitted",
        ),
        (
            json.dumps(
                {**ENVELOPE, "partition": "a b", "type": "courier_offline", "courier_id": "c"}
            ),
            "courier_offline.partition: String should match pattern",
        ),
        (
            json.dumps(
                {**ENVELOPE, "at": -1, "type": "order_cancelled", "order_id": "o1"},
            ),
            "order_cancelled.at: Input should be greater than or equal to 0",
        ),
        (
            json.dumps(
                {
                    **ENVELOPE,
                    "type": "courier_moved",
                    "courier_id": "c1",
                    "position": {"lat": 91, "lon": 0},
                }
            ),
            "courier_moved.position.lat",
        ),
        (
            json.dumps(
                {
                    **ENVELOPE,
                    "type": "courier_online",
                    "courier": {**EXAMPLES["courier_online"]["courier"], "online": False},
                }
            ),
            "courier with online=false",
        ),
    ],
)
def test_bad_events_are_refused_with_a_readable_reason(raw: str, reason: str) -> None:
    with pytest.raises(BadInputError, match="invalid event") as info:
        parse_event(raw)
    assert reason in str(info.value)


def test_validate_event_refuses_bad_mappings() -> None:
    with pytest.raises(BadInputError, match=r"order_delivered\.order_id"):
        validate_event({**ENVELOPE, "type": "order_delivered", "order_id": ""})
