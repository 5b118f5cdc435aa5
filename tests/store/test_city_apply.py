"""Applying a city's incoming stream: idempotent by event id, bad events dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis

from jarvis.errors import FencedError, StoreError
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.store.builders import courier, dump, event, order

CITY = "lyon"


def test_a_duplicate_event_is_applied_once_and_counted(rds: redis.Redis, namespace: str) -> None:
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    created = event(CITY, "order_created", order=order("o1"))
    producer.submit(created)
    producer.submit(created)  # same event id, two stream entries
    first = store.apply_events(epoch=1)
    assert (first.applied, first.duplicates, first.dead_lettered) == (1, 1, 0)

    producer.submit(created.model_dump_json())  # again, in a later batch
    second = store.apply_events(epoch=1)
    assert (second.applied, second.duplicates, second.dead_lettered) == (0, 1, 0)
    assert [o.id for o in store.snapshot().orders] == ["o1"]
    assert store.stats()["duplicates"] == "2"
    assert store.dead_letters() == []  # a duplicate is not an error


def test_a_duplicate_cancel_after_reassignment_does_not_cancel_twice(
    rds: redis.Redis, namespace: str
) -> None:
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    producer.submit_many(
        [
            event(CITY, "order_created", order=order("o1")),
            event(CITY, "courier_online", courier=courier("c1")),
        ]
    )
    store.apply_events(1)
    assert store.commit(1, 1, [("o1", "c1")], 1.0).accepted
    delivered = event(CITY, "order_delivered", order_id="o1")
    producer.submit_many([delivered, delivered])
    result = store.apply_events(1)
    assert (result.applied, result.duplicates, result.dead_lettered) == (1, 1, 0)


def test_bad_events_go_to_dead_letters_with_reason_and_payload(
    rds: redis.Redis, namespace: str
) -> None:
    store = CityStore(rds, CITY, namespace)
    stream = store.keys.events_in
    wrong_city = event("nice", "order_cancelled", order_id="o1").model_dump_json()
    store_event = event(CITY, "work_completed", item_id="w1", associate_id="a1")
    raws = [
        "{this is not json",
        json.dumps({"id": "e1", "partition": CITY, "at": 1, "type": "order_cancelled"}),
        event(CITY, "order_picked_up", order_id="ghost").model_dump_json(),
        wrong_city,
        store_event.model_dump_json(),
        event(
            CITY, "courier_moved", courier_id="nobody", position={"lat": 0, "lon": 0}
        ).model_dump_json(),
    ]
    ids = [rds.xadd(stream, {"event": raw}) for raw in raws]
    ids.append(rds.xadd(stream, {"something": "else"}))
    ids.append(Producer(rds, namespace).submit(event(CITY, "order_created", order=order("ok"))))

    result = store.apply_events(epoch=1)
    assert (result.applied, result.duplicates, result.dead_lettered) == (1, 0, 7)
    assert result.cursor == ids[-1]

    dead = store.dead_letters()
    assert [d["stream_id"] for d in dead] == ids[:-1]
    assert [d["event"] for d in dead] == [*raws, ""]
    reasons = [d["reason"] for d in dead]
    assert "Invalid JSON" in reasons[0]
    assert "order_cancelled.order_id: Field required" in reasons[1]
    assert reasons[2] == "unknown order ghost"
    assert reasons[3] == "event for partition 'nice' sent to 'lyon'"
    assert reasons[4] == "event type 'work_completed' does not apply to a city"
    assert reasons[5] == "unknown courier nobody"
    assert reasons[6] == "entry has no 'event' field"
    assert all(d["epoch"] == "1" and d["partition"] == CITY for d in dead)
    assert store.stats()["dead_letters"] == "7"
    # Nothing is read twice: the cursor moved past the bad entries too.
    assert store.apply_events(epoch=1).applied == 0
    assert len(store.dead_letters()) == 7


@pytest.mark.parametrize(
    ("history", "bad", "reason"),
    [
        ([], ("order_cancelled", {"order_id": "o9"}), "unknown order o9"),
        (["created"], ("order_picked_up", {"order_id": "o1"}), "order o1 is not assigned"),
        (["created"], ("order_delivered", {"order_id": "o1"}), "order o1 is not assigned"),
        (
            ["created"],
            ("order_created", {"order": order("o1").model_dump()}),
            "order o1 already exists (open)",
        ),
        (
            ["created", "assigned", "picked"],
            ("order_cancelled", {"order_id": "o1"}),
            "order o1 is already picked up and cannot be cancelled",
        ),
        (
            ["created", "assigned", "picked"],
            ("order_picked_up", {"order_id": "o1"}),
            "order o1 is picked_up",
        ),
        (
            ["created", "cancelled"],
            ("order_delivered", {"order_id": "o1"}),
            "order o1 is cancelled",
        ),
        ([], ("courier_offline", {"courier_id": "c9"}), "unknown courier c9"),
    ],
)
def test_events_that_do_not_fit_the_state_are_dead_lettered(
    rds: redis.Redis,
    namespace: str,
    history: list[str],
    bad: tuple[str, dict[str, Any]],
    reason: str,
) -> None:
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    producer.submit(event(CITY, "courier_online", courier=courier("c1")))
    for step in history:
        if step == "created":
            producer.submit(event(CITY, "order_created", order=order("o1")))
        elif step == "assigned":
            store.apply_events(1)
            assert store.commit(1, 1, [("o1", "c1")], 1.0).accepted
        elif step == "picked":
            producer.submit(event(CITY, "order_picked_up", order_id="o1"))
        elif step == "cancelled":
            producer.submit(event(CITY, "order_cancelled", order_id="o1"))
    store.apply_events(1)
    before = dump(rds, namespace)
    kind, fields = bad
    producer.submit(event(CITY, kind, **fields))
    assert store.apply_events(1).dead_lettered == 1
    assert store.dead_letters()[-1]["reason"] == reason
    after = dump(rds, namespace)
    changed = {key for key in after if after[key] != before.get(key)}
    keys = store.keys
    assert changed == {keys.events_in, keys.dead_letter, keys.cursor, keys.stats}


def test_applying_with_a_stale_epoch_is_fenced_and_changes_nothing(
    rds: redis.Redis, namespace: str
) -> None:
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    producer.submit(event(CITY, "order_created", order=order("o1")))
    store.apply_events(epoch=2**63 + 1)
    producer.submit(event(CITY, "order_created", order=order("o2")))
    before = dump(rds, namespace)
    with pytest.raises(FencedError) as info:
        store.apply_events(epoch=2**63)
    assert (info.value.epoch, info.value.highest) == (2**63, 2**63 + 1)
    after = dump(rds, namespace)
    assert after.pop(store.keys.stats) == {**before.pop(store.keys.stats), "fenced": "1"}
    assert after == before
    assert store.apply_events(epoch=2**63 + 1).applied == 1


def test_an_idle_apply_is_still_fenced(rds: redis.Redis, namespace: str) -> None:
    store = CityStore(rds, CITY, namespace)
    assert store.apply_events(epoch=5).cursor == ""
    with pytest.raises(FencedError):
        store.apply_events(epoch=4)


def test_large_backlogs_are_applied_in_batches(rds: redis.Redis, namespace: str) -> None:
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "order_created", order=order(f"o{i}", created_at=1000.0 + i))
            for i in range(7)
        ]
    )
    store = CityStore(rds, CITY, namespace)
    assert [store.apply_events(1, max_events=3).applied for _ in range(4)] == [3, 3, 1, 0]
    assert [o.id for o in store.snapshot().orders] == [f"o{i}" for i in range(7)]


def test_memory_is_bounded_by_the_horizon_in_stream_time(rds: redis.Redis, namespace: str) -> None:
    """Ids, closed orders and applied entries older than the horizon are forgotten."""
    store = CityStore(rds, CITY, namespace, horizon_s=10.0)
    keys = store.keys

    def at(ms: int, *events: str) -> None:
        for seq, raw in enumerate(events):
            rds.xadd(keys.events_in, {"event": raw}, id=f"{ms}-{seq}")
        store.apply_events(1)

    created = event(CITY, "order_created", order=order("o1")).model_dump_json()
    cancelled = event(CITY, "order_cancelled", order_id="o1").model_dump_json()
    at(1_000, created, cancelled)
    assert rds.zcard(keys.applied_events) == 2
    at(5_000, created)  # within the horizon: a duplicate
    assert store.stats()["duplicates"] == "1"

    at(20_000, event(CITY, "courier_online", courier=courier("c1")).model_dump_json())
    assert rds.zcard(keys.applied_events) == 1  # only the recent one is remembered
    assert rds.zcard(keys.closed_orders) == 0
    assert rds.hget(keys.order_status, "o1") is None
    assert rds.xlen(keys.events_in) == 1  # applied entries past the horizon are trimmed

    at(21_000, created)  # past the horizon, the same id counts as new
    assert [o.id for o in store.snapshot().orders] == ["o1"]


def test_an_entry_that_is_not_utf8_is_dead_lettered_not_fatal(
    rds: redis.Redis, namespace: str
) -> None:
    store = CityStore(rds, CITY, namespace)
    rds.xadd(store.keys.events_in, {"event": b"\xff\xfe{not text"})
    Producer(rds, namespace).submit(event(CITY, "order_created", order=order("o1")))
    result = store.apply_events(1)
    assert (result.applied, result.dead_lettered) == (1, 1)
    (dead,) = store.dead_letters()
    assert "Invalid JSON" in dead["reason"]
    assert dead["event"] == "\ufffd\ufffd{not text"


def test_a_courier_online_then_moved_in_one_batch_is_known_and_unknown_ones_are_not(
    rds: redis.Redis, namespace: str
) -> None:
    store = CityStore(rds, CITY, namespace)
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "courier_moved", courier_id="c1", position={"lat": 48.0, "lon": 2.0}),
            event(CITY, "courier_online", courier=courier("c1")),
            event(CITY, "courier_moved", courier_id="c1", position={"lat": 48.5, "lon": 2.5}),
            event(CITY, "courier_moved", courier_id="c2", position={"lat": 48.5, "lon": 2.5}),
        ]
    )
    result = store.apply_events(1)
    assert (result.applied, result.dead_lettered) == (2, 2)
    assert [d["reason"] for d in store.dead_letters()] == [
        "unknown courier c1",
        "unknown courier c2",
    ]
    [c1] = store.snapshot().couriers
    assert (c1.id, c1.position.lat, c1.position.lon) == ("c1", 48.5, 2.5)


def test_a_batch_that_fails_part_way_records_what_it_applied_so_a_retry_skips_it(
    rds: redis.Redis, namespace: str
) -> None:
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    producer.submit(event(CITY, "courier_online", courier=courier("c1")))
    store.apply_events(1)
    # corrupt state: the positions hash becomes a string, so moving c1 fails in Redis
    rds.delete(store.keys.courier_positions)
    rds.set(store.keys.courier_positions, "not a hash")
    created = event(CITY, "order_created", order=order("o1"))
    moved = event(CITY, "courier_moved", courier_id="c1", position={"lat": 48.5, "lon": 2.5})
    producer.submit_many([created, moved])
    with pytest.raises(StoreError, match="WRONGTYPE"):
        store.apply_events(1)
    assert rds.zscore(store.keys.applied_events, created.id) is not None
    assert rds.zscore(store.keys.applied_events, moved.id) is None

    rds.delete(store.keys.courier_positions)
    retry = store.apply_events(1)
    assert (retry.applied, retry.duplicates, retry.dead_lettered) == (1, 1, 0)
    assert [o.id for o in store.snapshot().orders] == ["o1"]


def _moves_script(city: str) -> list[Any]:
    """Moves before, between and after two courier_online of c1, an unknown c2, and a
    replayed (duplicate) move whose older position comes after a newer one."""
    first = event(city, "courier_moved", "m-1", courier_id="c1", position={"lat": 1, "lon": 1})
    return [
        first,  # c1 unknown yet: dead-lettered
        event(city, "courier_online", "on-1", courier=courier("c1", lat=2.0, lon=2.0)),
        event(city, "courier_moved", "m-2", courier_id="c1", position={"lat": 3, "lon": 3}),
        event(city, "courier_moved", "m-3", courier_id="c2", position={"lat": 4, "lon": 4}),
        event(city, "courier_moved", "m-4", courier_id="c1", position={"lat": 5, "lon": 5}),
        event(city, "courier_online", "on-2", courier=courier("c2", lat=6.0, lon=6.0)),
        event(city, "courier_moved", "m-5", courier_id="c2", position={"lat": 7, "lon": 7}),
        event(city, "courier_moved", "m-2", courier_id="c1", position={"lat": 3, "lon": 3}),
        event(city, "courier_online", "on-3", courier=courier("c2", lat=8.0, lon=8.0)),
    ]


def _orders_script(city: str) -> list[Any]:
    """New orders before, between and after events on them: a second creation of an
    order (open, then cancelled), a replayed creation, an inapplicable pick-up."""

    def created(event_id: str, oid: str, at: float) -> Any:
        return event(city, "order_created", event_id, order=order(oid, created_at=at))

    return [
        created("oc-1", "o1", 1000.0),
        created("oc-2", "o2", 1003.0),
        created("oc-3", "o1", 1001.0),  # o1 exists (open): dead-lettered
        event(city, "order_cancelled", "cx-1", order_id="o1"),
        created("oc-4", "o1", 1002.0),  # o1 exists (cancelled): dead-lettered
        created("oc-5", "o3", 1002.0),
        created("oc-2", "o2", 1003.0),  # replayed: a duplicate
        event(city, "order_picked_up", "pu-1", order_id="o3"),  # not assigned
        created("oc-6", "o4", 999.0),
        event(city, "courier_online", "on-1", courier=courier("c1")),
        created("oc-7", "o4", 999.0),  # o4 exists (open), written or not yet
    ]


def _applied_alone(
    rds: redis.Redis, namespace: str, script: Callable[[str], list[Any]]
) -> tuple[CityStore, CityStore]:
    """Two cities given the same events: lyon-a has applied them one at a time, lyon-b
    not yet (the test applies its batch)."""
    events = script("lyon-a")
    Producer(rds, namespace).submit_many(events + script("lyon-b"))
    one_by_one = CityStore(rds, "lyon-a", namespace)
    for _ in events:
        one_by_one.apply_events(1, max_events=1)
    return one_by_one, CityStore(rds, "lyon-b", namespace)


def test_new_orders_gathered_in_one_batch_end_as_if_applied_one_by_one(
    rds: redis.Redis, namespace: str
) -> None:
    one_by_one, batched = _applied_alone(rds, namespace, _orders_script)
    whole = batched.apply_events(1)
    assert (whole.applied, whole.duplicates, whole.dead_lettered) == (6, 1, 4)
    assert _outcome(batched) == _outcome(one_by_one)
    assert [o.id for o in batched.snapshot().orders] == ["o4", "o3", "o2"]  # by created_at
    assert [d["reason"] for d in batched.dead_letters()] == [
        "order o1 already exists (open)",
        "order o1 already exists (cancelled)",
        "order o3 is not assigned",
        "order o4 already exists (open)",
    ]


def _outcome(store: CityStore) -> tuple[Any, ...]:
    snapshot = store.snapshot()
    positions = {c.id: (c.position.lat, c.position.lon) for c in snapshot.couriers}
    orders = [o.id for o in snapshot.orders]
    stats = store.stats()
    counts = (stats["applied"], stats["duplicates"], stats["dead_letters"])
    dead = [(d["stream_id"] != "", d["reason"]) for d in store.dead_letters()]
    return positions, orders, counts, dead


def test_moves_gathered_in_one_batch_end_as_if_applied_one_by_one(
    rds: redis.Redis, namespace: str
) -> None:
    """The batch writes its couriers' positions at its end; the outcome (positions,
    counts, dead letters, recorded ids) is that of applying each event alone."""
    one_by_one, batched = _applied_alone(rds, namespace, _moves_script)
    rest = one_by_one.apply_events(1)  # nothing left: all nine went one by one
    assert (rest.applied, rest.duplicates, rest.dead_lettered) == (0, 0, 0)
    whole = batched.apply_events(1)
    assert (whole.applied, whole.duplicates, whole.dead_lettered) == (6, 1, 2)
    assert _outcome(batched) == _outcome(one_by_one)
    assert _outcome(batched)[0] == {"c1": (5.0, 5.0), "c2": (8.0, 8.0)}
    recorded = rds.zrange(batched.keys.applied_events, 0, -1)
    assert sorted(recorded) == ["m-2", "m-4", "m-5", "on-1", "on-2", "on-3"]


def test_moves_and_new_orders_before_a_failure_part_way_are_written_and_recorded(
    rds: redis.Redis, namespace: str
) -> None:
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    producer.submit(event(CITY, "courier_online", courier=courier("c1")))
    store.apply_events(1)
    # corrupt state: what couriers hold becomes a string, so c1 going offline fails in
    # Redis (at its first read: it writes nothing)
    rds.set(store.keys.courier_orders, "not a hash")
    created = event(CITY, "order_created", order=order("o1"))
    moved = event(CITY, "courier_moved", courier_id="c1", position={"lat": 48.5, "lon": 2.5})
    offline = event(CITY, "courier_offline", courier_id="c1")
    later = [
        event(CITY, "order_created", order=order("o2", created_at=1001.0)),
        event(CITY, "courier_moved", courier_id="c1", position={"lat": 49.0, "lon": 3.0}),
    ]
    producer.submit_many([created, moved, offline, *later])
    with pytest.raises(StoreError, match="WRONGTYPE"):
        store.apply_events(1)
    recorded = set(rds.zrange(store.keys.applied_events, 0, -1))
    assert {created.id, moved.id} <= recorded
    assert not {offline.id, *(e.id for e in later)} & recorded
    assert rds.hget(store.keys.courier_positions, "c1") == '{"lat":48.5,"lon":2.5}'
    assert rds.hget(store.keys.order_status, "o1") == "open"
    assert rds.hget(store.keys.order_status, "o2") is None

    # the entries before the failing one are done: counted, and the cursor moved past them
    assert store.stats()["applied"] == "3"  # c1 online, o1 created, c1 moved

    rds.delete(store.keys.courier_orders)
    retry = store.apply_events(1)
    assert (retry.applied, retry.duplicates, retry.dead_lettered) == (3, 0, 0)
    assert [o.id for o in store.snapshot().orders] == ["o1", "o2"]
    assert store.snapshot().couriers == ()  # offline
    assert rds.hget(store.keys.courier_positions, "c1") == '{"lat":49.0,"lon":3.0}'


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(1e-07, -180.0), (-90.0, 5e-324), (48.123456789012344, 179.99999999999997), (0.0, -0.0)],
)
def test_a_position_written_by_apply_reads_back_as_the_same_point(
    rds: redis.Redis, namespace: str, lat: float, lon: float
) -> None:
    """Apply writes positions itself (not through pydantic): extreme and tiny coordinates
    are stored as JSON that the snapshot reads back as exactly the point sent, both from
    courier_online and from courier_moved."""
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    online = courier("c1", lat=lat, lon=lon)
    producer.submit(event(CITY, "courier_online", courier=online))
    store.apply_events(1)
    [first] = store.snapshot().couriers
    assert (first.position.lat, first.position.lon) == (lat, lon)
    stored = rds.hget(store.keys.courier_positions, "c1")
    assert stored is not None
    assert json.loads(stored) == {"lat": lat, "lon": lon}

    moved = event(CITY, "courier_moved", courier_id="c1", position={"lat": -lat, "lon": -lon})
    producer.submit(moved)
    assert store.apply_events(1).applied == 1
    [again] = store.snapshot().couriers
    assert (again.position.lat, again.position.lon) == (-lat, -lon)
