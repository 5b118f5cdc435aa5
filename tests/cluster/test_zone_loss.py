"""Losing a whole zone at once, under traffic: its member, its ZooKeeper server and a
Redis primary, all SIGKILLed together.

The Redis Cluster runs as production should across three zones: three primaries with
two replicas each (``--cluster-replicas 2``), so every shard keeps a replica after any
one zone is gone and writes are still confirmed (``WAIT``) without restoring anything.
(With one replica per primary, the promoted primary has none until the lost node is
back, and writes to its slots answer 503 meanwhile: docs/runbook.md.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from jarvis.config import Settings
from jarvis.connections import redis_client, replication
from jarvis.errors import JarvisError
from jarvis.models.events import CourierMoved
from jarvis.models.geo import Point
from jarvis.store.producer import Producer
from jarvis.testing.redis_cluster import RedisCluster
from tests.cluster.conftest import CITIES, Scenario, run_scenario
from tests.faults import wait_for

#: Within this many seconds of the loss: sessions expire (4 s), the Redis replica is
#: elected (node timeout 2 s plus the election), members take over; wide margin for a
#: loaded machine.
DEADLINE = 45.0


@pytest.fixture
def zoned(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    yield from run_scenario(request, ensemble=True, redis_cluster=True, redis_replicas=2)


def _acknowledged(producer: Producer, city: str) -> bool:
    """A write to ``city``'s slots is confirmed by a replica (the producer waits for one)."""
    event = CourierMoved(
        id=f"probe-{time.monotonic_ns()}",
        partition=city,
        at=time.time(),
        courier_id=f"{city}-c0",
        position=Point(lat=48.0, lon=2.0),
    )
    try:
        producer.submit(event)
    except JarvisError:
        return False
    return True


def test_losing_a_zone_keeps_every_city_dispatched_with_confirmed_writes(
    zoned: Scenario,
) -> None:
    scenario = zoned
    redis = scenario.cluster.redis
    assert isinstance(redis, RedisCluster)
    scenario.start()
    wait_for(scenario.all_owned, 30, "every city has an owner")
    wait_for(scenario.dispatching(20), 30, "dispatching under way")

    def primary_of(city: str) -> int:
        return redis.primary_for(f"{scenario.cluster.namespace}:{{{city}}}:epoch").port

    # Zone a holds member m1, a ZooKeeper server and the primary serving the first city.
    ports = [p.port for p in redis.primaries()]
    index = ports.index(primary_of(CITIES[0]))
    lost_primary = redis.primaries()[index]
    victims = [c for c in CITIES if primary_of(c) == lost_primary.port]
    lost_at = time.time()
    scenario.cluster.lose_zone("m1", index)

    wait_for(
        lambda: set(scenario.owners().values()) <= {"m2", "m3"} and scenario.all_owned(),
        DEADLINE,
        "the surviving zones own every city",
    )
    for city in CITIES:
        wait_for(
            lambda city=city: scenario.ticked_since(city, lost_at),  # type: ignore[misc]
            DEADLINE,
            f"{city} ticks again after zone a was lost",
        )
    # Writes to the lost primary's slots are confirmed by a replica again, with the
    # lost node still down: its other replica follows the promoted one.
    settings = Settings(redis=scenario.cluster.redis_url, redis_mode="cluster")
    producer = Producer(
        redis_client(settings), scenario.cluster.namespace, replication=replication(settings)
    )
    try:
        for city in victims:
            wait_for(
                lambda city=city: _acknowledged(producer, city),  # type: ignore[misc]
                DEADLINE,
                f"a write to {city} is confirmed by a replica while zone a is down",
            )
    finally:
        producer.redis.close()
    assert not lost_primary.running

    report = scenario.finish()
    assert report.double_assignments == 0, report.partitions
    assert report.over_capacity == 0, report.partitions
    assert report.stale_commits == 0, report.partitions
    assert report.unresolved == 0, report.partitions
    assert report.assignments > 0
