"""A city's life: orders and couriers come and go; the snapshot follows the rules."""

from __future__ import annotations

import redis

from jarvis.config import Settings
from jarvis.connections import redis_client
from jarvis.models.events import Event
from jarvis.models.geo import Point
from jarvis.store.city import CitySnapshot, CityStore
from jarvis.store.producer import Producer
from jarvis.store.replies import stream_entries
from tests.store.builders import courier, event, order

CITY = "paris"
EPOCH = 10


def feed(rds: redis.Redis, namespace: str, *events: Event) -> CityStore:
    Producer(rds, namespace).submit_many(events)
    store = CityStore(rds, CITY, namespace)
    result = store.apply_events(EPOCH)
    assert result.dead_lettered == 0, store.dead_letters()
    return store


def open_ids(snapshot: CitySnapshot) -> list[str]:
    return [o.id for o in snapshot.orders]


def free_slots(snapshot: CitySnapshot) -> dict[str, int]:
    return {c.id: c.capacity for c in snapshot.couriers}


def test_orders_are_assigned_picked_up_and_delivery_frees_the_slot(
    rds: redis.Redis, namespace: str
) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o2", created_at=1002.0)),
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "order_created", order=order("o3", created_at=1003.0)),
        event(CITY, "courier_online", courier=courier("c1", capacity=2)),
        event(CITY, "courier_online", courier=courier("c2", capacity=1)),
    )
    snap = store.snapshot()
    assert open_ids(snap) == ["o1", "o2", "o3"]  # oldest first
    assert free_slots(snap) == {"c1": 2, "c2": 1}
    (last_entry,) = stream_entries(rds.xrevrange(store.keys.events_in, count=1))
    assert snap.cursor == last_entry[0]

    assert store.commit(EPOCH, 1, [("o1", "c1"), ("o2", "c1"), ("o3", "c2")], now=2000.0).accepted
    snap = store.snapshot()
    assert open_ids(snap) == []
    assert free_slots(snap) == {}

    feed(rds, namespace, event(CITY, "order_picked_up", order_id="o1"))
    assert free_slots(store.snapshot()) == {}  # picked up still holds the slot
    feed(rds, namespace, event(CITY, "order_delivered", order_id="o1"))
    assert free_slots(store.snapshot()) == {"c1": 1}
    # A delivery whose pick-up event never came is accepted and frees the slot too.
    feed(rds, namespace, event(CITY, "order_delivered", order_id="o3"))
    assert free_slots(store.snapshot()) == {"c1": 1, "c2": 1}
    assert store.stats()["applied"] == "8"


def test_courier_offline_returns_unstarted_orders_and_keeps_picked_up_ones(
    rds: redis.Redis, namespace: str
) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "order_created", order=order("o2", created_at=1002.0)),
        event(CITY, "order_created", order=order("o3", created_at=1003.0)),
        event(CITY, "courier_online", courier=courier("c1", capacity=3)),
    )
    assert store.commit(EPOCH, 1, [("o1", "c1"), ("o2", "c1"), ("o3", "c1")], 2000.0).accepted
    feed(
        rds,
        namespace,
        event(CITY, "order_picked_up", order_id="o2"),
        event(CITY, "courier_offline", courier_id="c1"),
    )
    snap = store.snapshot()
    assert open_ids(snap) == ["o1", "o3"]  # back in the pool, in their original order
    assert free_slots(snap) == {}

    # They can be assigned again; the offline courier cannot.
    feed(rds, namespace, event(CITY, "courier_online", courier=courier("c2", capacity=2)))
    refused = store.commit(EPOCH, 2, [("o1", "c1")], 2001.0)
    assert not refused.accepted
    assert refused.conflicts == ("courier c1 is offline",)
    assert store.commit(EPOCH, 2, [("o1", "c2"), ("o3", "c2")], 2001.0).accepted

    # Back online, c1 still carries o2: one slot of three is taken until delivery.
    feed(rds, namespace, event(CITY, "courier_online", courier=courier("c1", capacity=3)))
    assert free_slots(store.snapshot()) == {"c1": 2}
    feed(rds, namespace, event(CITY, "order_delivered", order_id="o2"))
    assert free_slots(store.snapshot()) == {"c1": 3}


def test_cancelled_orders_never_appear_and_cancelling_frees_the_courier(
    rds: redis.Redis, namespace: str
) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "order_created", order=order("o2", created_at=1002.0)),
        event(CITY, "order_created", order=order("o3", created_at=1003.0)),
        event(CITY, "courier_online", courier=courier("c1", capacity=1)),
        event(CITY, "order_cancelled", order_id="o3"),
    )
    assert open_ids(store.snapshot()) == ["o1", "o2"]
    assert store.commit(EPOCH, 1, [("o1", "c1")], 2000.0).accepted
    feed(rds, namespace, event(CITY, "order_cancelled", order_id="o1"))
    snap = store.snapshot()
    assert open_ids(snap) == ["o2"]
    assert free_slots(snap) == {"c1": 1}
    refused = store.commit(EPOCH, 2, [("o1", "c1"), ("o3", "c1")], 2001.0)
    assert refused.conflicts == (
        "order o1 is no longer open (cancelled)",
        "order o3 is no longer open (cancelled)",
        "courier c1 is full (1/1)",
    )
    # Offline does not bring a cancelled order back.
    assert store.commit(EPOCH, 3, [("o2", "c1")], 2002.0).accepted
    feed(
        rds,
        namespace,
        event(CITY, "order_cancelled", order_id="o2"),
        event(CITY, "courier_offline", courier_id="c1"),
    )
    assert open_ids(store.snapshot()) == []


def test_courier_moves_and_updates_are_applied(rds: redis.Redis, namespace: str) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "courier_online", courier=courier("c1", capacity=1, lat=1.0, lon=1.0)),
        event(CITY, "courier_moved", courier_id="c1", position={"lat": 2.5, "lon": -3.25}),
    )
    (c1,) = store.snapshot().couriers
    assert c1.position == Point(lat=2.5, lon=-3.25)
    feed(rds, namespace, event(CITY, "courier_online", courier=courier("c1", capacity=4)))
    (c1,) = store.snapshot().couriers
    assert (c1.capacity, c1.position) == (4, Point(lat=48.85, lon=2.35))


def test_a_client_without_decoded_responses_sees_the_same_state(
    rds: redis.Redis, namespace: str, redis_settings: Settings
) -> None:
    feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1")),
        event(CITY, "courier_online", courier=courier("c1", capacity=2)),
    )
    raw = redis_client(redis_settings, decode_responses=False)  # replies are bytes
    try:
        store = CityStore(raw, CITY, namespace)
        assert store.snapshot() == CityStore(rds, CITY, namespace).snapshot()
        assert store.commit(EPOCH, 1, [("o1", "c1")], 2000.0).accepted
        assert [d.task for d in store.decisions()] == ["o1", None]
        assert store.stats()["assigned"] == "1"
    finally:
        raw.close()


def test_out_stream_records_the_whole_history_of_each_order(
    rds: redis.Redis, namespace: str
) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "order_created", order=order("o2", created_at=1002.0)),
        event(CITY, "order_created", order=order("o3", created_at=1003.0)),
        event(CITY, "courier_online", courier=courier("c1", capacity=2)),
    )
    assert store.commit(EPOCH, 1, [("o1", "c1"), ("o2", "c1")], 2000.0).accepted
    feed(
        rds,
        namespace,
        event(CITY, "order_delivered", order_id="o1"),
        event(CITY, "order_cancelled", order_id="o3"),
        event(CITY, "courier_offline", courier_id="c1"),
    )
    history = [(d.type, d.task, d.worker, d.reason) for d in store.decisions() if d.type != "tick"]
    assert history == [
        ("assignment", "o1", "c1", None),
        ("assignment", "o2", "c1", None),
        ("delivered", "o1", "c1", None),
        ("cancelled", "o3", None, "cancelled"),
        ("unassigned", "o2", "c1", "offline"),
    ]
    assert all(d.epoch == EPOCH for d in store.decisions())


def test_the_snapshot_shows_what_each_courier_with_room_holds(
    rds: redis.Redis, namespace: str
) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "order_created", order=order("o2", created_at=1002.0)),
        event(CITY, "order_created", order=order("o3", created_at=1003.0)),
        event(CITY, "courier_online", courier=courier("c1", capacity=3)),
        event(CITY, "courier_online", courier=courier("c2", capacity=1)),
    )
    assert store.commit(EPOCH, 1, [("o1", "c1"), ("o2", "c1"), ("o3", "c2")], 2000.0).accepted
    feed(rds, namespace, event(CITY, "order_picked_up", order_id="o2"))
    snap = store.snapshot()
    assert free_slots(snap) == {"c1": 1}
    held = {cid: [(h.order.id, h.picked_up) for h in orders] for cid, orders in snap.held.items()}
    assert held == {"c1": [("o1", False), ("o2", True)]}  # c2 is full: not a candidate
    assert snap.held["c1"][0].order == order("o1", created_at=1001.0)

    feed(rds, namespace, event(CITY, "order_delivered", order_id="o2"))
    feed(rds, namespace, event(CITY, "order_delivered", order_id="o3"))
    snap = store.snapshot()
    held = {cid: [(h.order.id, h.picked_up) for h in orders] for cid, orders in snap.held.items()}
    assert held == {"c1": [("o1", False)]}
    assert free_slots(snap) == {"c1": 2, "c2": 1}


def test_a_declined_order_reopens_and_the_decline_is_remembered(
    rds: redis.Redis, namespace: str
) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "order_created", order=order("o2", created_at=1002.0)),
        event(CITY, "courier_online", courier=courier("c1", capacity=2)),
        event(CITY, "courier_online", courier=courier("c2", capacity=1)),
    )
    assert store.commit(EPOCH, 1, [("o1", "c1"), ("o2", "c2")], 2000.0).accepted
    decline = event(CITY, "order_declined", order_id="o1", courier_id="c1", reason="too far")
    feed(rds, namespace, decline)
    snap = store.snapshot()
    assert open_ids(snap) == ["o1"]
    assert free_slots(snap) == {"c1": 2}
    assert snap.held == {}
    ((order_id, courier_id, at),) = snap.declines
    assert (order_id, courier_id) == ("o1", "c1")
    (last,) = stream_entries(rds.xrevrange(store.keys.events_in, count=1))
    assert at == int(last[0].split("-")[0]) / 1000.0
    history = [d for d in store.decisions() if d.type == "unassigned"]
    assert [(d.task, d.worker, d.reason) for d in history] == [("o1", "c1", "declined: too far")]

    # the same event again is a duplicate: nothing changes, nothing is dead-lettered
    Producer(rds, namespace).submit_many([decline])
    again = store.apply_events(EPOCH)
    assert (again.applied, again.duplicates, again.dead_lettered) == (0, 1, 0)
    assert store.snapshot().declines == snap.declines

    # declines that do not fit the state are dead-lettered with their reason
    feed(rds, namespace, event(CITY, "order_picked_up", order_id="o2"))
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "order_declined", order_id="o1", courier_id="c1"),
            event(CITY, "order_declined", order_id="o2", courier_id="c1"),
            event(CITY, "order_declined", order_id="o2", courier_id="c2"),
            event(CITY, "order_declined", order_id="nope", courier_id="c2"),
        ]
    )
    assert store.apply_events(EPOCH).dead_lettered == 4
    reasons = [d["reason"] for d in store.dead_letters()]
    assert reasons == [
        "order o1 is not assigned",
        "order o2 is already picked up and cannot be declined",
        "order o2 is already picked up and cannot be declined",
        "unknown order nope",
    ]
    # once the order is assigned again, the decline is no longer listed
    assert store.commit(EPOCH, 2, [("o1", "c1")], 2001.0).accepted
    assert store.snapshot().declines == ()
