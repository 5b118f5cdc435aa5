"""The local Redis Cluster works, and a confirmed write really is on a replica."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from jarvis.config import Settings
from jarvis.connections import redis_client, replication
from jarvis.errors import FencedError, NotReplicatedError, StoreError
from jarvis.store.city import CityStore
from jarvis.store.replication import RedisClient, Replication, run_replicated, write_replicated
from jarvis.store.runner import ScriptRunner
from jarvis.testing.redis_cluster import RedisCluster
from tests.faults import wait_for

#: Two zxid-sized epochs, above 2**53 (no float may stand in for them).
EPOCH_OLD = 2**60 + 1
EPOCH_NEW = 2**60 + 2
SET_AND_GET = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"


@pytest.fixture
def client(redis_cluster: RedisCluster) -> Iterator[RedisClient]:
    settings = Settings(redis=redis_cluster.url, redis_mode="cluster")
    rc = redis_client(settings)
    try:
        yield rc
    finally:
        rc.close()


def _on_replica(cluster: RedisCluster, key: str) -> str | None:
    """``GET key`` from a replica of the key's primary (READONLY: no redirect)."""
    [replica] = cluster.replicas_of(cluster.primary_for(key))
    with redis.Redis(port=replica.port, decode_responses=True) as direct:
        direct.execute_command("READONLY")
        value = direct.get(key)
    return value if value is None else str(value)


def test_the_cluster_has_three_primaries_each_with_one_replica(
    redis_cluster: RedisCluster,
) -> None:
    primaries = redis_cluster.primaries()
    assert len(primaries) == 3
    replicas = [r for p in primaries for r in redis_cluster.replicas_of(p)]
    assert len(replicas) == 3
    assert not {r.port for r in replicas} & {p.port for p in primaries}


def test_cluster_mode_waits_for_one_replica_by_default() -> None:
    assert replication(Settings(redis_mode="cluster")) == Replication(1, 1.0)
    assert replication(Settings()).min_replicas == 0


def test_a_confirmed_script_write_is_already_on_the_replica(
    redis_cluster: RedisCluster, client: RedisClient
) -> None:
    script = client.register_script(SET_AND_GET)
    for tag in ("a", "b", "c", "d", "e"):  # several slots, so several primaries
        key = f"jt{uuid.uuid4().hex[:8]}:{{{tag}}}:value"
        assert run_replicated(client, script, [key], ["v1"], Replication(1, 2.0)) == "v1"
        assert _on_replica(redis_cluster, key) == "v1"


def test_a_confirmed_command_write_is_already_on_the_replica(
    redis_cluster: RedisCluster, client: RedisClient
) -> None:
    key = f"jt{uuid.uuid4().hex[:8]}:{{s}}:value"
    [reply] = write_replicated(client, key, [("SET", key, "x")], Replication(1, 2.0))
    assert reply == "OK" or reply is True
    assert _on_replica(redis_cluster, key) == "x"


def test_a_write_too_few_replicas_confirm_has_an_unknown_outcome(client: RedisClient) -> None:
    script = client.register_script(SET_AND_GET)
    key = f"jt{uuid.uuid4().hex[:8]}:{{u}}:value"
    with pytest.raises(NotReplicatedError) as caught:
        run_replicated(client, script, [key], ["v"], Replication(2, 0.2))
    assert (caught.value.wanted, caught.value.confirmed) == (2, 1)
    # Unknown, not undone: the primary did apply it (which is why nobody may act on it).
    assert client.get(key) == "v"


def test_after_a_failover_no_write_below_an_acknowledged_epoch_is_accepted(
    tmp_path: Path,
) -> None:
    """Kill the primary of a city's slot after an epoch was acknowledged (replicated);
    once its replica took over, a write with a lower epoch is fenced, and the
    acknowledged tick is still there."""
    cluster = RedisCluster(tmp_path / "redis-cluster")
    cluster.start()
    client = redis_client(Settings(redis=cluster.url, redis_mode="cluster"))
    namespace = f"jt{uuid.uuid4().hex[:8]}"
    try:
        acked = CityStore(
            client,
            "paris",
            namespace,
            scripts=ScriptRunner(client, replication=Replication(1, 2.0)),
        )
        acked.record_tick(EPOCH_NEW, 7, 1000.0)  # returns only once a replica has it
        old = cluster.primary_for(acked.keys.epoch)
        cluster.kill(old)
        promoted = cluster.wait_primary_replaced(old)
        assert promoted.port != old.port
        stale = CityStore(client, "paris", namespace)  # the new primary has no replica yet

        def refused() -> FencedError | None:
            try:
                stale.record_tick(EPOCH_OLD, 8, 1001.0)
            except FencedError as exc:
                return exc
            except StoreError:  # the client is still finding the new primary: again
                return None
            pytest.fail("a write with an epoch below the acknowledged one was accepted")

        fenced = wait_for(refused, 30.0, "the promoted replica answers the stale write")
        assert fenced is not None
        assert fenced.highest == EPOCH_NEW
        assert stale.last_tick()[0] == 7
    finally:
        client.close()
        cluster.stop()
