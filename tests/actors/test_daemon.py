"""A whole member in-process (Redis, supervisor, actors, ZooKeeper) dispatching a city."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
import redis
from kazoo.client import KazooClient

from jarvis.config import Settings
from jarvis.daemon import Daemon
from jarvis.election import PartitionRegistry
from jarvis.models import Courier, Order, Point, decide_city
from jarvis.models.events import CourierOnline, OrderCreated
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.faults import wait_for

CITY = "paris"


def _settings(zk_hosts: str, redis_url: str, namespace: str, member: str) -> Settings:
    return Settings(
        zk=zk_hosts,
        redis=redis_url,
        namespace=namespace,
        cluster="t",
        zone="a",
        member=member,
        tick=0.2,
        session_timeout=4.0,
        drain_timeout=10.0,
    )


@pytest.fixture
def daemon(zk_hosts: str, redis_url: str, namespace: str) -> Iterator[Daemon]:
    d = Daemon(_settings(zk_hosts, redis_url, namespace, "m1"))
    yield d
    if not d.stopped.is_set():
        d.stop(graceful=False)


def _city(rng: random.Random, n_orders: int, n_couriers: int) -> tuple[list[Order], list[Courier]]:
    def point() -> Point:
        return Point(lat=48.85 + rng.uniform(-0.05, 0.05), lon=2.35 + rng.uniform(-0.05, 0.05))

    now = time.time()
    orders = [
        Order(id=f"o{i}", pickup=point(), dropoff=point(), created_at=now, ready_at=now)
        for i in range(n_orders)
    ]
    couriers = [Courier(id=f"c{i}", position=point()) for i in range(n_couriers)]
    return orders, couriers


def test_one_member_assigns_what_the_solver_would_choose(
    daemon: Daemon, zk: KazooClient, rds: redis.Redis, namespace: str
) -> None:
    orders, couriers = _city(random.Random(3), n_orders=12, n_couriers=8)
    now = time.time()
    producer = Producer(rds, namespace)
    producer.submit_many(
        [CourierOnline(id=f"e-{c.id}", partition=CITY, at=now, courier=c) for c in couriers]
        + [OrderCreated(id=f"e-{o.id}", partition=CITY, at=now, order=o) for o in orders]
    )
    PartitionRegistry(zk, "t").add(CITY, "city")
    daemon.start()
    store = CityStore(rds, CITY, namespace)
    wait_for(
        lambda: any(d.type == "assignment" for d in store.decisions()),
        15,
        "the member assigned orders",
    )
    first_tick = min(d.tick for d in store.decisions() if d.type == "assignment")
    chosen = {
        (d.task, d.worker)
        for d in store.decisions()
        if d.type == "assignment" and d.tick == first_tick
    }
    expected = decide_city(orders, couriers, now)
    assert chosen == {(a.task, a.worker) for a in expected.assignments}
    assert len(chosen) == 8  # every courier got one order; four wait for the next tick
    assert daemon.stop(graceful=True)


def test_bad_events_are_dead_lettered_and_the_partition_keeps_ticking(
    daemon: Daemon, zk: KazooClient, rds: redis.Redis, namespace: str
) -> None:
    PartitionRegistry(zk, "t").add(CITY, "city")
    daemon.start()
    store = CityStore(rds, CITY, namespace)
    wait_for(lambda: int(store.stats().get("tick", "0")) >= 1, 15, "the partition ticked")
    in_stream = store.keys.events_in
    rds.xadd(in_stream, {"event": "{not json"})
    rds.xadd(in_stream, {"event": '{"id": "e1", "partition": "paris", "at": 1, "type": "nope"}'})
    rds.xadd(in_stream, {"event": '{"id": "e2", "partition": "paris", "at": 1, '
                                  '"type": "order_picked_up", "order_id": "ghost"}'})  # fmt: skip
    wait_for(lambda: len(store.dead_letters()) == 3, 10, "three dead letters")
    reasons = [d["reason"] for d in store.dead_letters()]
    assert "ghost" in reasons[2]
    ticked = int(store.stats()["tick"])
    wait_for(lambda: int(store.stats()["tick"]) >= ticked + 3, 10, "more ticks after them")


def test_a_member_that_cannot_reach_redis_never_joins_and_takes_nothing(
    zk_hosts: str, zk: KazooClient, namespace: str
) -> None:
    from jarvis.election import ClusterView
    from jarvis.errors import ServerError
    from jarvis.testing.servers import free_port

    PartitionRegistry(zk, "t").add(CITY, "city")
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    d = Daemon(_settings(zk_hosts, dead_redis, namespace, "m-unready"))
    with pytest.raises(ServerError, match="Redis"):
        d.start()
    view = ClusterView(zk, "t")
    assert view.members() == []
    assert [row.owner for row in view.partitions()] == [None]
    d.stop(graceful=False)
