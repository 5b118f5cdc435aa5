"""The real servers the test suite depends on really work, through the dev helper."""

from __future__ import annotations

import threading
from pathlib import Path

import redis
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState, WatchedEvent

from jarvis.testing.servers import DevCluster, RedisServer, ZooKeeperEnsemble
from tests.faults import wait_for


def test_ephemeral_znode_is_created_watched_and_vanishes_with_its_session(
    zk_hosts: str, zk: KazooClient
) -> None:
    owner = KazooClient(hosts=zk_hosts, timeout=4.0)
    owner.start(timeout=15)
    events: list[WatchedEvent] = []
    seen = threading.Event()

    def on_change(event: WatchedEvent) -> None:
        events.append(event)
        seen.set()

    owner.create("/lease", b"member-a", ephemeral=True)
    data, stat = zk.get("/lease", watch=on_change)
    assert data == b"member-a"
    assert stat.ephemeralOwner == owner.client_id[0]

    owner.stop()
    owner.close()
    assert seen.wait(10), "the watch never fired after the owner's session closed"
    assert events[0].type == "DELETED"
    assert zk.exists("/lease") is None


def test_redis_round_trips_hashes_and_streams(rds: redis.Redis, namespace: str) -> None:
    rds.hset(f"{namespace}:h", mapping={"a": "1", "b": "two"})
    assert rds.hgetall(f"{namespace}:h") == {"a": "1", "b": "two"}
    entry_id = rds.xadd(f"{namespace}:s", {"event": "x"})
    assert rds.xrange(f"{namespace}:s") == [(entry_id, {"event": "x"})]


def test_redis_restart_keeps_data_written_before_it(servers: DevCluster, namespace: str) -> None:
    client = redis.Redis.from_url(servers.redis.url, decode_responses=True)
    client.set(f"{namespace}:durable", "still here")
    client.close()
    servers.redis.restart()
    client = redis.Redis.from_url(servers.redis.url, decode_responses=True)
    try:
        assert client.get(f"{namespace}:durable") == "still here"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
    finally:
        client.delete(f"{namespace}:durable")
        client.close()


def test_redis_killed_and_restarted_recovers_from_its_append_only_file(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        client.set("k", "v")
        # Rewrite the append-only file so the write is surely on disk, then crash.
        client.bgrewriteaof()
        wait_for(
            lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0,
            10,
            "the AOF rewrite finished",
        )
        client.close()
        server.kill()
        server.start()
        client = redis.Redis.from_url(server.url, decode_responses=True)
        assert client.get("k") == "v"
        client.close()
    finally:
        server.stop()


def test_zookeeper_answers_four_letter_words(servers: DevCluster) -> None:
    assert servers.zookeeper.four_letter("ruok") == "imok"
    assert "Mode: standalone" in servers.zookeeper.four_letter("srvr")


def test_zookeeper_ensemble_survives_losing_its_leader(tmp_path: Path) -> None:
    ensemble = ZooKeeperEnsemble(tmp_path / "ensemble")
    ensemble.start()
    try:
        client = KazooClient(hosts=ensemble.hosts, timeout=6.0)
        client.start(timeout=20)
        client.create("/before", b"1")
        reconnected = threading.Event()

        def listener(state: KazooState) -> None:
            if state == KazooState.CONNECTED:
                reconnected.set()

        client.add_listener(listener)
        leader = ensemble.leader()
        leader.kill()
        wait_for(
            lambda: any(s.mode == "leader" for s in ensemble.servers if s is not leader),
            30,
            "a new leader was elected",
        )
        # Connected to the old leader, the client was cut off and reconnects; connected
        # to a follower, it may have stayed connected all along.
        if not client.connected:
            assert reconnected.wait(20), "the client never reconnected"
        assert client.get("/before")[0] == b"1"
        client.create("/after", b"2")
        client.stop()
        client.close()
    finally:
        ensemble.stop()
