"""In a Redis Cluster with replicas, a scheduler worker still sends the idle checks of
its due ticks together: one exchange per primary, one ``WAIT`` each (issue 14).

Calls are counted by the real primaries of the session's Redis Cluster
(``INFO commandstats``, reset by this test; pytest runs the suite's tests one at a time).
"""

from __future__ import annotations

import time
import uuid

import redis

from jarvis.actors import PartitionActor, Scheduler
from jarvis.actors.pipelined import ScheduledTick, run_pipelined
from jarvis.actors.store import StoreEngine
from jarvis.config import Settings
from jarvis.store.city import CityStore
from jarvis.store.replication import RedisClient, Replication
from jarvis.store.runner import ScriptRunner
from jarvis.store.specs import WORK_IDLE
from jarvis.testing.redis_cluster import RedisCluster


def test_a_worker_sends_idle_checks_per_primary_with_one_wait_each(
    redis_cluster: RedisCluster, cluster_client: RedisClient
) -> None:
    namespace = f"jt{uuid.uuid4().hex[:8]}"
    runner = ScriptRunner(cluster_client, replication=Replication(1, 2.0))
    settings = Settings(namespace=namespace)
    scheduler = Scheduler(workers=1)
    stores = [f"s-pc{i}" for i in range(9)]
    actors = [
        PartitionActor(
            store,
            100,
            StoreEngine.build(cluster_client, store, settings, rules=None, scripts=runner),
            interval=3600.0,  # the scheduler never runs them again in this test
            scheduler=scheduler,
            gate=lambda: True,
            on_released=lambda p, e: None,
            on_stopped=lambda p, e: None,
        )
        for store in stores
    ]
    ticks = [CityStore(cluster_client, store, namespace) for store in stores]
    by_port: dict[int, int] = {}
    for store_ticks in ticks:
        port = redis_cluster.primary_for(store_ticks.keys.epoch).port
        by_port[port] = by_port.get(port, 0) + 1
    assert len(by_port) > 1, "nine stores all on one primary: the test proves nothing"
    primaries = {p.port: redis.Redis(port=p.port) for p in redis_cluster.primaries()}
    try:
        for actor in actors:
            actor.scheduled_tick(time.monotonic())  # the first, full tick: loads, score 0
        for node in primaries.values():  # the idle script known everywhere, counters at 0
            node.script_load(runner.script(WORK_IDLE).script)
            node.config_resetstat()
        run_pipelined([ScheduledTick(actor, time.monotonic()) for actor in actors])
        calls = {port: _stats(node) for port, node in primaries.items()}
        for store_ticks in ticks:
            assert store_ticks.last_tick()[0] == 2, store_ticks
            assert store_ticks.stats().get("idle_ticks") == "1", store_ticks
    finally:
        scheduler.stop()
        for node in primaries.values():
            node.close()
        for key in cluster_client.scan_iter(match=f"{namespace}:*", count=1000):
            cluster_client.delete(key)
    for port, stats in calls.items():
        assert stats.get("evalsha", 0) == by_port.get(port, 0), (port, stats)
        assert stats.get("wait", 0) == (1 if port in by_port else 0), (port, stats)


def _stats(node: redis.Redis) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in node.info("commandstats").items()
    }
