"""Idle checks of many partitions in few round trips (``check_many``): one pipeline per
Redis node, one ``WAIT`` per pipeline, and no ``SCRIPT EXISTS`` (issue 14).

Round trips are counted by the real servers (``INFO commandstats``): the Redis Cluster
tests reset the counters of each primary, so the suite's other tests must not talk to
that cluster meanwhile (pytest runs them one after the other); the standalone tests use a
Redis started for this module alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from jarvis.errors import FencedError, NotReplicatedError
from jarvis.store.city import CityStore
from jarvis.store.idle import IdleProbe, IdleTick, city_idle_call
from jarvis.store.idle_batch import check_many
from jarvis.store.producer import Producer
from jarvis.store.replication import RedisClient, Replication
from jarvis.store.runner import ScriptRunner
from jarvis.store.specs import CITY_IDLE
from jarvis.testing.redis_cluster import RedisCluster
from jarvis.testing.servers import RedisServer
from tests.store.builders import event, order

NOW = 1_700_000_000.0
EPOCH = 2**60 + 5  # above 2**53: passed as a decimal string, never a float


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    server = RedisServer(Path(tmp_path_factory.mktemp("idle-batch-redis")))
    server.start()
    client = redis.Redis.from_url(server.url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def _cities(client: RedisClient, runner: ScriptRunner, count: int) -> list[CityStore]:
    namespace = f"jt{uuid.uuid4().hex[:8]}"
    return [CityStore(client, f"c{i}", namespace, scripts=runner) for i in range(count)]


def _stats(node: redis.Redis) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in node.info("commandstats").items()
    }


def test_checks_on_every_primary_go_in_one_pipeline_per_node_with_one_wait_each(
    redis_cluster: RedisCluster, cluster_client: RedisClient
) -> None:
    runner = ScriptRunner(cluster_client, replication=Replication(1, 2.0))
    cities = _cities(cluster_client, runner, 12)
    by_port: dict[int, int] = {}
    for city in cities:
        port = redis_cluster.primary_for(city.keys.epoch).port
        by_port[port] = by_port.get(port, 0) + 1
    assert len(by_port) > 1, "twelve cities all on one primary: the test proves nothing"
    primaries = {p.port: redis.Redis(port=p.port) for p in redis_cluster.primaries()}
    try:
        for node in primaries.values():  # known everywhere: no NOSCRIPT round (see below)
            node.script_load(runner.script(CITY_IDLE).script)
            node.config_resetstat()
        results = check_many(runner, [city_idle_call(c, EPOCH, 1, NOW) for c in cities])
        calls = {port: _stats(node) for port, node in primaries.items()}
    finally:
        for node in primaries.values():
            node.close()
    assert all(isinstance(r, IdleTick) for r in results), results
    for city in cities:
        assert city.last_tick() == (1, NOW), city
    for port, stats in calls.items():
        assert stats.get("evalsha", 0) == by_port.get(port, 0), (port, stats)
        assert stats.get("wait", 0) == (1 if port in by_port else 0), (port, stats)
        assert "script|exists" not in stats, (port, stats)
    # Confirmed means on the replica of its slot already.
    for city in cities:
        [replica] = redis_cluster.replicas_of(redis_cluster.primary_for(city.keys.epoch))
        with redis.Redis(port=replica.port, decode_responses=True) as direct:
            direct.execute_command("READONLY")
            assert direct.hget(city.keys.stats, "tick") == "1", city


def test_an_idle_marker_short_of_replicas_is_unknown_and_a_busy_check_is_not(
    cluster_client: RedisClient,
) -> None:
    runner = ScriptRunner(cluster_client, replication=Replication(2, 0.2))  # one replica each
    idle, busy = _cities(cluster_client, runner, 2)
    Producer(cluster_client, busy.namespace).submit_many(
        [event(busy.partition, "order_created", order=order("o1").model_dump())]
    )
    calls = [city_idle_call(c, EPOCH, 1, NOW) for c in (idle, busy)]
    unknown, needs_full_tick = check_many(runner, calls)
    assert isinstance(unknown, NotReplicatedError), unknown
    assert (unknown.wanted, unknown.confirmed) == (2, 1)
    assert needs_full_tick is None
    # The probe keeps the unknown outcome: its tick raises it instead of checking again
    # (which would record tick 1 a second time).
    probe = IdleProbe(runner, lambda e, t, now: city_idle_call(idle, e, t, now))
    probe.prefetch(calls[0], unknown)
    with pytest.raises(NotReplicatedError):
        probe.check(EPOCH, 1, NOW)
    assert cluster_client.xlen(idle.keys.decisions_out) == 1


def test_standalone_checks_are_one_round_trip_and_errors_stay_per_partition(
    private_redis: redis.Redis,
) -> None:
    """No ``SCRIPT EXISTS`` before the pipeline; a stale epoch is that partition's
    FencedError, the others record their tick; a server that lost the scripts
    (``SCRIPT FLUSH``) is given them again and the calls it refused are sent once more."""
    runner = ScriptRunner(private_redis)
    cities = _cities(private_redis, runner, 4)
    assert isinstance(check_many(runner, [city_idle_call(cities[0], EPOCH, 1, NOW)])[0], IdleTick)
    private_redis.config_resetstat()
    calls = [
        city_idle_call(c, EPOCH - 1 if i == 0 else EPOCH, 1, NOW) for i, c in enumerate(cities)
    ]
    fenced, *recorded = check_many(runner, calls)
    stats = _stats(private_redis)
    assert isinstance(fenced, FencedError), fenced
    assert all(isinstance(r, IdleTick) for r in recorded), recorded
    assert stats.get("evalsha") == 4, stats
    assert "script|exists" not in stats, stats

    private_redis.script_flush()
    private_redis.config_resetstat()
    again = check_many(runner, [city_idle_call(c, EPOCH, 2, NOW) for c in cities[1:]])
    stats = _stats(private_redis)
    assert all(isinstance(r, IdleTick) for r in again), again
    assert [c.last_tick()[0] for c in cities[1:]] == [2, 2, 2]
    # Refused (NOSCRIPT, nothing ran), loaded once, sent once more.
    assert (stats.get("evalsha"), stats.get("script|load")) == (6, 1), stats
