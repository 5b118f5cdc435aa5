"""A city end to end over real servers, every courier feature switched on at once.

One member (real ZooKeeper and Redis, its actor ticking every 0.2 s) runs a city whose
partition config enables bundling, reassignment and the decline cooldown. Couriers and
orders arrive as events; a courier declines an order; a better courier comes online for
an order already assigned. The history checker then judges the city's whole out stream:
no double assignment (a second assignment only in the form of a reassignment), no
courier over capacity, no stale commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from kazoo.client import KazooClient

from jarvis.config import Settings
from jarvis.daemon import Daemon
from jarvis.election import PartitionRegistry
from jarvis.models import Courier, Order, Point
from jarvis.models.events import Event
from jarvis.store.city import CityStore
from jarvis.store.decisions import DecisionRecord
from jarvis.store.producer import Producer
from jarvis.testing.checker import check_cluster
from tests.faults import wait_for
from tests.store.builders import event

CITY = "lyon"
HERE = Point(lat=48.85, lon=2.35)
NEXT_DOOR = Point(lat=48.8505, lon=2.3505)  # a pickup on the way: about 70 m
EAST = Point(lat=48.85, lon=2.37)
CONFIG = {
    "bundle_pickup_km": 1.0,
    "reassign_max": 1,
    "reassign_min_saving": 60.0,
    "decline_cooldown_s": 300.0,
}


@pytest.fixture
def member(
    zk_hosts: str, redis_url: str, redis_mode: str, namespace: str, zk: KazooClient
) -> Iterator[Daemon]:
    PartitionRegistry(zk, "t").add(CITY, "city", CONFIG)
    settings = Settings(
        zk=zk_hosts,
        redis=redis_url,
        redis_mode=redis_mode,
        namespace=namespace,
        cluster="t",
        zone="a",
        member="m-e2e",
        tick=0.2,
        session_timeout=4.0,
    )
    daemon = Daemon(settings)
    daemon.start()
    yield daemon
    daemon.stop(graceful=False)


def _order(oid: str, pickup: Point, dropoff: Point) -> Order:
    now = time.time()
    return Order(id=oid, pickup=pickup, dropoff=dropoff, created_at=now, ready_at=now)


def _online(cid: str, at: Point, capacity: int = 1) -> Event:
    courier = Courier(id=cid, position=at, capacity=capacity)
    return event(CITY, "courier_online", courier=courier.model_dump(mode="json"))


def _created(order: Order) -> Event:
    return event(CITY, "order_created", order=order.model_dump(mode="json"))


def _holder(store: CityStore, order_id: str) -> str | None:
    """Who holds ``order_id`` now, from the out stream (None: nobody)."""
    holder = None
    for d in store.decisions():
        if d.task != order_id:
            continue
        if d.type in ("assignment", "reassignment"):
            holder = d.worker
        elif d.type == "unassigned":
            holder = None
    return holder


def _of_type(store: CityStore, kind: str) -> list[DecisionRecord]:
    return [d for d in store.decisions() if d.type == kind]


def test_bundles_declines_and_reassignments_together_keep_the_history_clean(
    member: Daemon, rds: redis.Redis, namespace: str
) -> None:
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)

    # Two orders with pickups next door to each other, going the same way, and one
    # courier with room for both: given together, in one tick.
    producer.submit_many(
        [
            _online("c1", HERE, capacity=2),
            _created(_order("b1", HERE, EAST)),
            _created(_order("b2", NEXT_DOOR, EAST)),
        ]
    )
    wait_for(
        lambda: _holder(store, "b1") == "c1" and _holder(store, "b2") == "c1",
        20,
        "b1 and b2 given to c1",
    )
    ticks = {d.task: d.tick for d in _of_type(store, "assignment")}
    assert ticks["b1"] == ticks["b2"], "the bundle was given in one tick"

    # c2 is offered d1 and declines it: d1 goes to someone else, never back to c2
    # within the cooldown (meanwhile the others may reshuffle: a reassignment is fine).
    producer.submit_many([_online("c2", HERE), _created(_order("d1", HERE, EAST))])
    wait_for(lambda: _holder(store, "d1") == "c2", 20, "d1 given to c2")
    producer.submit_many(
        [event(CITY, "order_declined", courier_id="c2", order_id="d1", reason="too far")]
    )
    producer.submit_many([_online("c3", Point(lat=48.85, lon=2.36), capacity=2)])
    wait_for(lambda: _holder(store, "d1") not in (None, "c2"), 20, "d1 given to another courier")
    d1 = [d for d in store.decisions() if d.task == "d1" and d.type != "tick"]
    declined = next(i for i, d in enumerate(d1) if d.type == "unassigned")
    assert d1[declined].reason == "declined: too far"
    assert all(d.worker != "c2" for d in d1[declined + 1 :]), d1

    # Across town (11 km north, too far for anyone above): n1 takes r1, then n2 comes
    # online right at its pickup, and r1 moves to n2, once.
    north = Point(lat=48.95, lon=2.35)
    producer.submit_many(
        [
            _online("n1", Point(lat=48.95, lon=2.38)),
            _created(_order("r1", north, Point(lat=48.955, lon=2.36))),
        ]
    )
    wait_for(lambda: _holder(store, "r1") == "n1", 20, "r1 given to n1")
    producer.submit_many([_online("n2", north)])
    wait_for(lambda: _holder(store, "r1") == "n2", 20, "r1 moved to n2")
    moves = [(d.task, d.from_worker, d.worker) for d in _of_type(store, "reassignment")]
    assert ("r1", "n1", "n2") in moves

    # every courier's stored stop order is the route of exactly what it holds (no
    # delivery happened, so no stale stop either): each order picked up, then dropped
    for courier_id in ("c1", "c2", "c3", "n1", "n2"):
        held = store.courier_orders(courier_id) or []
        stored = rds.hget(store.keys.courier_routes, courier_id)
        if not held:
            continue
        assert stored is not None, f"{courier_id} holds orders without a stop order"
        expected = {f"+{h.order.id}" for h in held} | {f"-{h.order.id}" for h in held}
        assert set(stored.split()) == expected, (courier_id, stored)
        assert all(h.pickup_stop is not None and h.pickup_stop < h.dropoff_stop for h in held)

    # the bundle is ridden as it was priced: both pickups, then both drop-offs
    if {h.order.id for h in store.courier_orders("c1") or []} == {"b1", "b2"}:
        kinds = [stop[0] for stop in str(rds.hget(store.keys.courier_routes, "c1")).split()]
        assert kinds == ["+", "+", "-", "-"]

    report = check_cluster(rds, [CITY], namespace)
    assert report.ok, report.partitions[CITY]
    assert report.partitions[CITY].reassignments >= 1
    assert report.double_assignments == 0
    assert report.over_capacity == 0
    assert report.stale_commits == 0
