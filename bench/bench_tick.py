"""A whole city tick against the dispatch core alone, on the same state.

``city_tick``: ``CityEngine.tick`` (read new events, snapshot from Redis, decide, one
fenced commit that also publishes every decision to the out stream) for a city with
2,000 open orders and 1,000 couriers, beside the dispatch core: ``decide_city`` called
as the tick calls it (the engine's config and rules, the couriers' held orders and the
declines, so that it also plans each courier's stop order), on the very same snapshot
already in memory. Each round starts from the same Redis state: the state is written
once, dumped, and restored before each measured tick. Before each timed part the
collector runs, so that a full collection falls in neither side by chance.

``core_bare_ms`` / ``ratio_vs_bare_core`` keep the earlier reference for comparison:
``decide_city(orders, couriers, now)`` without held orders, which plans no stop orders
(the figures before 2026-11-26 22:00 UTC used it).

``ratio`` is wall-clock; ``ratio_cpu`` is the same ratio in CPU seconds: this process's
``process_time`` plus, for the tick, the Redis server's (``INFO cpu``, read before and
after the tick), against the core's ``process_time``. On a shared machine the CPU view
does not count the time either side waits for a core. ``tick_redis_cpu_ms`` is the
Redis server's part of the tick's CPU (median of the rounds, like the others).
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import numpy as np
import redis

from bench.bench_ingest import _couriers, _orders
from jarvis.actors.city import CityEngine
from jarvis.models import decide_city
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from jarvis.testing.servers import DevCluster

CITY = "bench-city"
NAMESPACE = "bench"


def _restore(client: redis.Redis, dumped: dict[str, bytes]) -> None:
    pipe = client.pipeline(transaction=False)
    for key in client.scan_iter(match=f"{NAMESPACE}:*", count=1000):
        pipe.delete(key)
    for key, value in dumped.items():
        pipe.restore(key, 0, value, replace=True)
    pipe.execute()


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run(quick: bool = False) -> list[dict[str, Any]]:
    n_orders, n_couriers = (500, 250) if quick else (2000, 1000)
    rounds = 3 if quick else 5
    rng = np.random.default_rng(5)
    rows: list[dict[str, Any]] = []
    with DevCluster() as servers:
        client = redis.Redis.from_url(servers.redis.url)
        store = CityStore(client, CITY, NAMESPACE)
        Producer(client, NAMESPACE).submit_many(
            _couriers(CITY, n_couriers, rng) + _orders(CITY, n_orders, rng)
        )
        store.apply_events(1, max_events=n_orders + n_couriers)
        dumped = {
            key: client.dump(key) for key in client.scan_iter(match=f"{NAMESPACE}:*", count=1000)
        }
        snapshot = store.snapshot()
        now = 2000.0
        engine = CityEngine(store)
        tick_s, core_s, tick_cpu, core_cpu, redis_cpu = [], [], [], [], []
        bare_s: list[float] = []
        assigned = 0
        for i in range(rounds):
            _restore(client, dumped)  # type: ignore[arg-type]
            gc.collect()
            server = _redis_cpu(client)
            cpu, started = time.process_time(), time.perf_counter()
            report = engine.tick(1 + i, i + 1, now, lambda: True)
            tick_s.append(time.perf_counter() - started)
            own = time.process_time() - cpu
            redis_cpu.append(_redis_cpu(client) - server)
            tick_cpu.append(own + redis_cpu[-1])
            assigned = report.assigned
            gc.collect()
            cpu, started = time.process_time(), time.perf_counter()
            decide_city(
                snapshot.orders,
                snapshot.couriers,
                now,
                engine.config,
                rules=engine.rules,
                held=snapshot.held,
                declines=snapshot.declines,
            )
            core_s.append(time.perf_counter() - started)
            core_cpu.append(time.process_time() - cpu)
            gc.collect()
            started = time.perf_counter()
            decide_city(snapshot.orders, snapshot.couriers, now)
            bare_s.append(time.perf_counter() - started)
        client.close()
    tick = statistics.median(tick_s)
    core = statistics.median(core_s)
    rows.append(
        {
            "benchmark": "city_tick_vs_core",
            "orders": n_orders,
            "couriers": n_couriers,
            "assigned": assigned,
            "tick_ms": tick * 1000,
            "core_ms": core * 1000,
            "ratio": tick / core,
            "tick_cpu_ms": statistics.median(tick_cpu) * 1000,
            "tick_redis_cpu_ms": statistics.median(redis_cpu) * 1000,
            "core_cpu_ms": statistics.median(core_cpu) * 1000,
            "ratio_cpu": statistics.median(tick_cpu) / statistics.median(core_cpu),
            "core_bare_ms": statistics.median(bare_s) * 1000,
            "ratio_vs_bare_core": tick / statistics.median(bare_s),
            "target_ratio": 1.5,
        }
    )
    return rows
