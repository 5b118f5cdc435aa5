"""What acknowledged-means-replicated costs: a Redis Cluster with ``WAIT 1`` beside one node.

In the same run, on the same machine:

- ``city_tick``: the median of ``CityEngine.tick`` (apply events, snapshot, decide, one
  fenced commit) for a city of ``orders`` open orders and ``couriers`` couriers, each
  round from the same restored state; once against a single Redis (no replica, no
  ``WAIT``), once against a local Redis Cluster (three primaries, one replica each)
  with every script followed by ``WAIT 1`` on the primary of the city's slot.
- ``get_work``: the p50 and p99 of one associate's sequential get-work calls (each
  claims one item), same two setups.

``ratio`` is cluster / single node (goal: tick <= 1.3, get-work p99 <= 2). Everything
runs on one machine: the replica is local, so the figures show the cost of the extra
round trip to a replica and of the cluster client, not of a network between zones.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_ingest import _couriers, _orders
from jarvis.actors.city import CityEngine
from jarvis.config import Settings
from jarvis.connections import redis_client, replication
from jarvis.models.work import Associate, WorkItem
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from jarvis.store.replication import RedisClient
from jarvis.store.runner import ScriptRunner
from jarvis.store.work.queue import WorkQueue
from jarvis.testing.redis_cluster import RedisCluster
from jarvis.testing.servers import RedisServer

CITY = "bench-city"
STORE = "bench-store"
NAMESPACE = "benchrep"
ROLES = ("picker", "stocker", "cashier")


@contextmanager
def _setups() -> Iterator[list[tuple[str, Settings]]]:
    with tempfile.TemporaryDirectory(prefix="jarvis-bench-rep-") as tmp:
        single = RedisServer(Path(tmp) / "single")
        cluster = RedisCluster(Path(tmp) / "cluster")
        try:
            single.start()
            cluster.start()
            yield [
                ("single", Settings(redis=single.url)),
                ("cluster_wait1", Settings(redis=cluster.url, redis_mode="cluster")),
            ]
        finally:
            single.stop()
            cluster.stop()


def _restore(client: RedisClient, dumped: dict[str, bytes]) -> None:
    for key in list(client.scan_iter(match=f"{NAMESPACE}:*", count=1000)):
        client.delete(key)
    for key, value in dumped.items():
        client.restore(key, 0, value, replace=True)


def _city_tick(settings: Settings, orders: int, couriers: int, rounds: int) -> float:
    client = redis_client(settings, decode_responses=False)
    try:
        scripts = ScriptRunner(client, replication=replication(settings))
        store = CityStore(client, CITY, NAMESPACE, scripts=scripts)
        rng = np.random.default_rng(5)
        Producer(client, NAMESPACE).submit_many(
            _couriers(CITY, couriers, rng) + _orders(CITY, orders, rng)
        )
        store.apply_events(1, max_events=orders + couriers)
        dumped = {
            key: client.dump(key) for key in client.scan_iter(match=f"{NAMESPACE}:*", count=1000)
        }
        engine = CityEngine(store)
        times = []
        for i in range(rounds):
            _restore(client, dumped)  # type: ignore[arg-type]
            started = time.perf_counter()
            engine.tick(2 + i, i + 1, 2000.0, lambda: True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        client.close()


def _get_work(settings: Settings, calls: int) -> tuple[float, float]:
    client = redis_client(settings)
    try:
        scripts = ScriptRunner(client, replication=replication(settings))
        wq = WorkQueue(client, NAMESPACE, claim_ttl=600.0, scripts=scripts)
        wq.register_associate(
            Associate(id="a1", home_store=STORE, roles=frozenset(ROLES), licences=frozenset())
        )
        now = time.time()
        items = [
            WorkItem(
                id=f"w{i}",
                store=STORE,
                role=ROLES[i % len(ROLES)],
                due_at=now + (i * 7919) % 7200,
                priority=(i * 31) % 101,
            )
            for i in range(calls)
        ]
        for start in range(0, calls, 1000):
            wq.enqueue_many(items[start : start + 1000])
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            claim = wq.get_work("a1")
            times.append(time.perf_counter() - started)
            assert claim is not None, "the queue ran dry"
        return float(np.percentile(times, 50)), float(np.percentile(times, 99))
    finally:
        for key in list(client.scan_iter(match=f"{NAMESPACE}:*", count=1000)):
            client.delete(key)
        client.close()


def run(quick: bool = False) -> list[dict[str, Any]]:
    orders, couriers = (300, 150) if quick else (2000, 1000)
    rounds = 3 if quick else 7
    calls = 500 if quick else 3000
    tick: dict[str, float] = {}
    p50: dict[str, float] = {}
    p99: dict[str, float] = {}
    with _setups() as setups:
        for name, settings in setups:
            tick[name] = _city_tick(settings, orders, couriers, rounds)
            p50[name], p99[name] = _get_work(settings, calls)
    return [
        {
            "benchmark": "replication_city_tick",
            "orders": orders,
            "couriers": couriers,
            "single_ms": tick["single"] * 1000,
            "cluster_wait1_ms": tick["cluster_wait1"] * 1000,
            "ratio": tick["cluster_wait1"] / tick["single"],
            "target_ratio": 1.3,
        },
        {
            "benchmark": "replication_get_work",
            "calls": calls,
            "single_p50_ms": p50["single"] * 1000,
            "single_p99_ms": p99["single"] * 1000,
            "cluster_wait1_p50_ms": p50["cluster_wait1"] * 1000,
            "cluster_wait1_p99_ms": p99["cluster_wait1"] * 1000,
            "p99_ratio": p99["cluster_wait1"] / p99["single"],
            "target_ratio": 2.0,
        },
    ]
