"""A whole member in-process (Redis, supervisor, actors, ZooKeeper) dispatching a city."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import redis
from kazoo.client import KazooClient

from jarvis.actors import EngineFactory, PartitionEngine, TickReport
from jarvis.config import Settings
from jarvis.daemon import Daemon
from jarvis.election import ClusterView, PartitionRegistry
from jarvis.errors import ConfigError
from jarvis.models import Courier, Order, Point, decide_city
from jarvis.models.events import CourierOnline, OrderCreated
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.faults import expire_session, wait_for, wait_owned

CITY = "paris"


def _settings(
    zk_hosts: str, redis_url: str, namespace: str, member: str, redis_mode: str = "standalone"
) -> Settings:
    return Settings(
        zk=zk_hosts,
        redis=redis_url,
        redis_mode=redis_mode,
        namespace=namespace,
        cluster="t",
        zone="a",
        member=member,
        tick=0.2,
        session_timeout=4.0,
        drain_timeout=10.0,
    )


@pytest.fixture
def daemon(zk_hosts: str, redis_url: str, namespace: str, redis_mode: str) -> Iterator[Daemon]:
    d = Daemon(_settings(zk_hosts, redis_url, namespace, "m1", redis_mode))
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


def test_a_measuring_member_publishes_a_city_weight_from_its_open_orders(
    zk_hosts: str,
    redis_url: str,
    redis_mode: str,
    zk: KazooClient,
    rds: redis.Redis,
    namespace: str,
) -> None:
    orders, _ = _city(random.Random(5), n_orders=40, n_couriers=0)
    now = time.time()
    Producer(rds, namespace).submit_many(
        [OrderCreated(id=f"e-{o.id}", partition=CITY, at=now, order=o) for o in orders]
    )
    registry = PartitionRegistry(zk, "t")
    registry.add(CITY, "city")
    registry.add("village", "city")
    settings = _settings(zk_hosts, redis_url, namespace, "m-weights", redis_mode).model_copy(
        update={"balance_weights": "measured", "weight_unit": 10.0}
    )
    d = Daemon(settings)
    d.start()
    try:
        # 40 open orders and no courier, at 10 per unit: weight 4; the idle village 1.
        view = ClusterView(zk, "t")
        wait_for(
            lambda: (
                {r.partition: r.weight for r in view.partitions()} == {CITY: 4.0, "village": 1.0}
            ),
            20,
            "the member measured and published the weights",
        )
        assert [m.weight for m in view.members()] == [5.0]
    finally:
        d.stop(graceful=False)


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


WAIT = 20.0


def _owner(zk: KazooClient, partition: str) -> str | None:
    rows = ClusterView(zk, "t").partitions()
    return next((row.owner for row in rows if row.partition == partition), None)


def _draining(zk: KazooClient, member: str) -> bool:
    return any(row.member == member and row.draining for row in ClusterView(zk, "t").members())


class _NoEngineFor(Daemon):
    """A member that cannot build the engine of one partition."""

    def __init__(self, settings: Settings, broken: str) -> None:
        super().__init__(settings)
        self.broken = broken
        self.failed = threading.Event()

    def engine_factory(self) -> EngineFactory:
        inner = super().engine_factory()

        def build(partition: str, kind: str, config: Mapping[str, Any]) -> PartitionEngine:
            if partition == self.broken:
                self.failed.set()
                raise ConfigError(f"no engine for {partition} on this member (test)")
            return inner(partition, kind, config)

        return build


def test_a_partition_whose_engine_cannot_be_built_is_given_up_and_another_member_runs_it(
    zk_hosts: str,
    zk: KazooClient,
    redis_url: str,
    redis_mode: str,
    rds: redis.Redis,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="jarvis")
    PartitionRegistry(zk, "t").add(CITY, "city")
    broken = _NoEngineFor(_settings(zk_hosts, redis_url, namespace, "m1", redis_mode), CITY)
    healthy = Daemon(_settings(zk_hosts, redis_url, namespace, "m2", redis_mode))
    try:
        broken.start()
        assert broken.failed.wait(WAIT), "m1 never tried to build the engine"
        healthy.start()
        wait_for(lambda: _owner(zk, CITY) == "m2", WAIT, "m2 owns the partition m1 gave up")
        store = CityStore(rds, CITY, namespace)
        wait_for(lambda: int(store.stats().get("tick", "0")) >= 1, WAIT, "m2 ticks it")
    finally:
        broken.stop(graceful=False)
        healthy.stop(graceful=False)
    assert "cannot run it" in caplog.text
    assert "no engine for paris on this member" in caplog.text


class _HoldableEngine:
    """A real engine whose tick, once the test says ``hold``, waits right before its
    commit check until the test says ``proceed`` (a process paused mid-tick)."""

    def __init__(self, inner: PartitionEngine, daemon: _Holding) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.daemon = daemon

    def load(self) -> tuple[int, float | None]:
        return self.inner.load()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        daemon = self.daemon

        def checked() -> bool:
            if daemon.hold.is_set():
                daemon.held.set()
                assert daemon.proceed.wait(WAIT), "the test never let the tick go on"
            return may_commit()

        return self.inner.tick(epoch, tick, now, checked)


class _Holding(Daemon):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.hold = threading.Event()
        self.held = threading.Event()
        self.proceed = threading.Event()

    def engine_factory(self) -> EngineFactory:
        inner = super().engine_factory()

        def build(partition: str, kind: str, config: Mapping[str, Any]) -> PartitionEngine:
            return _HoldableEngine(inner(partition, kind, config), self)

        return build


def test_a_drain_whose_partitions_went_with_an_expired_session_is_not_a_graceful_stop(
    zk_hosts: str,
    zk: KazooClient,
    redis_url: str,
    redis_mode: str,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="jarvis")
    PartitionRegistry(zk, "t").add(CITY, "city")
    d = _Holding(_settings(zk_hosts, redis_url, namespace, "m1", redis_mode))
    d.start()
    member = d.member
    assert member is not None
    wait_owned(member, lambda owned: CITY in owned, WAIT, "m1 owns the partition")
    d.hold.set()
    assert d.held.wait(WAIT), "no tick reached its commit"
    results: list[bool] = []
    stopper = threading.Thread(target=lambda: results.append(d.stop(graceful=True)))
    stopper.start()
    try:
        wait_for(lambda: _draining(zk, "m1"), WAIT, "m1 says it is draining")
        # Mid-drain, the session expires (as when the process is SIGSTOPped for longer
        # than the session timeout): the partition is taken away, not handed over.
        expire_session(member.client)
    finally:
        d.proceed.set()
        stopper.join(WAIT + 15)
    assert results == [False], "the drain was reported graceful"
    lost = [r.getMessage() for r in caplog.records if "lost instead" in r.getMessage()]
    assert lost, "no log line names the partitions lost instead of handed over"
    assert CITY in lost[0]
