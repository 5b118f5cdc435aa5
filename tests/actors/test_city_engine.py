"""The city engine over a real Redis: couriers are costed by their routes, and a
declined order goes to someone else on the next tick."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import pytest
import redis

from jarvis.actors.city import CityEngine
from jarvis.models import CityConfig, Courier, Decision, Order, Point
from jarvis.models.reassign import Move, tick_routes
from jarvis.models.stops import Stop
from jarvis.repeats import RepeatedErrors
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from jarvis.testing.checker import check_cluster
from tests.actors.conftest import CITY
from tests.store.builders import event

HERE = Point(lat=48.85, lon=2.35)
MAX_MOVES = 1
EAST = Point(lat=48.85, lon=2.40)
WEST = Point(lat=48.85, lon=2.30)


def _order(oid: str, pickup: Point, dropoff: Point, now: float) -> Order:
    return Order(id=oid, pickup=pickup, dropoff=dropoff, created_at=now, ready_at=now)


def _assigned(store: CityStore) -> list[tuple[str, str]]:
    return [(d.task or "", d.worker or "") for d in store.decisions() if d.type == "assignment"]


def _tick(engine: CityEngine, tick: int, now: float) -> None:
    report = engine.tick(1, tick, now, lambda: True)
    assert report.committed, f"tick {tick} did not commit"


def test_a_courier_carrying_an_order_east_does_not_get_one_going_west(
    rds: redis.Redis, namespace: str
) -> None:
    now = time.time()
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    engine = CityEngine(store)
    busy = Courier(id="busy", position=HERE, capacity=2)
    free = Courier(id="free", position=Point(lat=48.85, lon=2.345))
    producer.submit_many(
        [
            event(CITY, "courier_online", courier=busy.model_dump(mode="json")),
            event(CITY, "order_created", order=_order("east", HERE, EAST, now).model_dump()),
        ]
    )
    _tick(engine, 1, now)
    assert _assigned(store) == [("east", "busy")]
    producer.submit_many(
        [
            event(CITY, "order_picked_up", order_id="east"),
            event(CITY, "courier_online", courier=free.model_dump(mode="json")),
            event(CITY, "order_created", order=_order("west", HERE, WEST, now).model_dump()),
        ]
    )
    _tick(engine, 2, now + 1)
    # free of its route, "busy" stands on the pickup and would win; carrying "east" it loses
    assert _assigned(store) == [("east", "busy"), ("west", "free")]


def test_a_declined_order_goes_to_another_courier_on_the_next_tick(
    rds: redis.Redis, namespace: str
) -> None:
    now = time.time()
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    engine = CityEngine(store)
    near = Courier(id="near", position=HERE)
    far = Courier(id="far", position=Point(lat=48.855, lon=2.355))
    producer.submit_many(
        [
            event(CITY, "courier_online", courier=near.model_dump(mode="json")),
            event(CITY, "courier_online", courier=far.model_dump(mode="json")),
            event(CITY, "order_created", order=_order("o1", HERE, EAST, now).model_dump()),
        ]
    )
    _tick(engine, 1, now)
    assert _assigned(store) == [("o1", "near")]
    producer.submit_many([event(CITY, "order_declined", order_id="o1", courier_id="near")])
    _tick(engine, 2, time.time())
    assert _assigned(store) == [("o1", "near"), ("o1", "far")]
    assert store.dead_letters() == []


def test_in_acceptance_mode_an_unanswered_offer_expires_and_goes_elsewhere_until_cooled(
    rds: redis.Redis, namespace: str
) -> None:
    now = time.time()
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    config = CityConfig(acceptance=True, offer_timeout_s=5.0, decline_cooldown_s=300.0)
    engine = CityEngine(store, config)
    near = Courier(id="near", position=HERE)
    far = Courier(id="far", position=Point(lat=48.855, lon=2.355))
    producer.submit_many(
        [
            event(CITY, "courier_online", courier=near.model_dump(mode="json")),
            event(CITY, "courier_online", courier=far.model_dump(mode="json")),
            event(CITY, "order_created", order=_order("o1", HERE, EAST, now).model_dump()),
        ]
    )

    def offers() -> list[tuple[str, str]]:
        return [(d.task or "", d.worker or "") for d in store.decisions() if d.type == "offer"]

    _tick(engine, 1, now)
    assert offers() == [("o1", "near")]
    assert _assigned(store) == []
    _tick(engine, 2, now + 6)  # near's offer expired at now + 5: near is cooling down
    assert offers() == [("o1", "near"), ("o1", "far")]
    _tick(engine, 3, now + 12)  # far's expired too: nobody may be offered it
    assert offers() == [("o1", "near"), ("o1", "far")]
    assert [o.id for o in store.snapshot().orders] == ["o1"]
    _tick(engine, 4, now + 306)  # near's cooldown (from now + 5) is over, far's is not
    assert offers() == [("o1", "near"), ("o1", "far"), ("o1", "near")]
    producer.submit_many([event(CITY, "offer_accepted", order_id="o1", courier_id="near")])
    _tick(engine, 5, now + 307)
    accepted = [(d.task, d.worker) for d in store.decisions() if d.type == "accepted"]
    assert accepted == [("o1", "near")]
    assert store.dead_letters() == []
    report = check_cluster(rds, [CITY], namespace)
    assert report.ok, report.partitions[CITY]


def test_an_assigned_order_moves_once_to_a_much_better_courier_who_comes_online(
    rds: redis.Redis, namespace: str
) -> None:
    now = time.time()
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    engine = CityEngine(store, CityConfig(reassign_max=MAX_MOVES, reassign_min_saving=60.0))
    far = Courier(id="far", position=Point(lat=48.85, lon=2.40))
    producer.submit_many(
        [
            event(CITY, "courier_online", courier=far.model_dump(mode="json")),
            event(CITY, "order_created", order=_order("o1", HERE, WEST, now).model_dump()),
        ]
    )
    _tick(engine, 1, now)
    assert _assigned(store) == [("o1", "far")]
    for name, lon in (("near", 2.36), ("nearest", 2.3501)):
        courier = Courier(id=name, position=Point(lat=48.85, lon=lon))
        producer.submit_many(
            [event(CITY, "courier_online", courier=courier.model_dump(mode="json"))]
        )
        _tick(engine, 2 if name == "near" else 3, time.time())
    moves = [
        (d.task, d.worker, d.from_worker) for d in store.decisions() if d.type == "reassignment"
    ]
    # the first better courier takes it; the order has used its one move, so it stays
    assert moves == [("o1", "near", "far")]
    report = check_cluster(rds, [CITY], namespace)
    assert report.ok, report.partitions[CITY]
    assert report.partitions[CITY].reassignments == 1


def test_in_acceptance_mode_an_accepted_order_moves_as_an_offer_and_an_offer_never_moves(
    rds: redis.Redis, namespace: str
) -> None:
    now = time.time()
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    config = CityConfig(
        acceptance=True, offer_timeout_s=600.0, reassign_max=MAX_MOVES, reassign_min_saving=60.0
    )
    engine = CityEngine(store, config)
    far = Courier(id="far", position=Point(lat=48.85, lon=2.40))
    near = Courier(id="near", position=Point(lat=48.85, lon=2.3501))
    producer.submit_many(
        [
            event(CITY, "courier_online", courier=far.model_dump(mode="json")),
            event(CITY, "order_created", order=_order("o1", HERE, WEST, now).model_dump()),
        ]
    )

    def kinds() -> list[tuple[str, str, str]]:
        return [
            (d.type, d.worker or "", d.from_worker or "")
            for d in store.decisions()
            if d.task == "o1"
        ]

    _tick(engine, 1, now)
    assert kinds() == [("offer", "far", "")]
    # a much better courier comes online while the offer is outstanding: it stays
    producer.submit_many([event(CITY, "courier_online", courier=near.model_dump(mode="json"))])
    _tick(engine, 2, now + 1)
    assert kinds() == [("offer", "far", "")]
    # accepted, it moves: as an offer to the better courier, the old one released
    producer.submit_many([event(CITY, "offer_accepted", order_id="o1", courier_id="far")])
    _tick(engine, 3, now + 2)
    assert kinds() == [
        ("offer", "far", ""),
        ("accepted", "far", ""),
        ("reassignment", "near", "far"),
    ]
    (moved,) = [d for d in store.decisions() if d.type == "reassignment"]
    assert moved.expires_at is not None
    assert [h.status for h in store.courier_orders("near") or []] == ["offered"]
    assert store.courier_orders("far") == []
    producer.submit_many([event(CITY, "offer_accepted", order_id="o1", courier_id="near")])
    _tick(engine, 4, now + 3)
    assert kinds()[-1] == ("accepted", "near", "")
    assert store.dead_letters() == []
    report = check_cluster(rds, [CITY], namespace)
    assert report.ok, report.partitions[CITY]
    assert report.partitions[CITY].reassignments == 1


def test_a_tick_whose_stop_orders_are_refused_commits_without_them_and_logs_once(
    rds: redis.Redis,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A planning defect, injected: every stop order names an order its courier lacks.
    def bad_routes(decision: Decision, moves: Sequence[Move]) -> dict[str, tuple[Stop, ...]]:
        return {
            c: (*stops, ("ghost", True), ("ghost", False))
            for c, stops in tick_routes(decision, moves).items()
        }

    monkeypatch.setattr("jarvis.actors.city.tick_routes", bad_routes)
    monkeypatch.setattr(
        "jarvis.actors.city.BAD_STOP_ORDERS",
        RepeatedErrors(logging.getLogger("jarvis.actors.city"), traceback=False),
    )
    now = time.time()
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    engine = CityEngine(store)
    producer.submit(
        event(
            CITY,
            "courier_online",
            courier=Courier(id="c1", position=HERE, capacity=3).model_dump(mode="json"),
        )
    )
    with caplog.at_level(logging.WARNING, logger="jarvis.actors.city"):
        for tick in range(1, 4):
            producer.submit(
                event(CITY, "order_created", order=_order(f"o{tick}", HERE, EAST, now).model_dump())
            )
            _tick(engine, tick, now + tick)
    # every tick dispatched; no stop order was stored (the courier rides its orders in
    # assignment order), least of all the bad one
    assert _assigned(store) == [("o1", "c1"), ("o2", "c1"), ("o3", "c1")]
    assert rds.hget(store.keys.courier_routes, "c1") is None
    refused = [r for r in caplog.records if "without its stop orders" in r.getMessage()]
    assert len(refused) == 1, [r.getMessage() for r in refused]
    assert "ghost" in refused[0].getMessage()
    assert check_cluster(rds, [CITY], namespace).ok
