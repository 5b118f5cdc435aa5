"""The floors other benchmarks compare against: bare ZooKeeper and Redis round trips."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import redis
from kazoo.client import KazooClient

from jarvis.testing.servers import DevCluster


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1000.0
    return {"p50_ms": float(np.percentile(arr, 50)), "p99_ms": float(np.percentile(arr, 99))}


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 200 if quick else 1000
    with DevCluster() as servers:
        zk = KazooClient(hosts=servers.zookeeper.hosts)
        zk.start(timeout=15)
        zk.ensure_path("/bench")
        creates = []
        for i in range(n):
            t = time.perf_counter()
            zk.create(f"/bench/n{i}", b"", ephemeral=True)
            creates.append(time.perf_counter() - t)
        zk.stop()
        zk.close()

        r = redis.Redis.from_url(servers.redis.url)
        pings = []
        for _ in range(n):
            t = time.perf_counter()
            r.ping()
            pings.append(time.perf_counter() - t)
        r.close()
    return [
        {
            "benchmark": "zookeeper_ephemeral_create",
            "n": n,
            **_percentiles(creates),
            "total_s": sum(creates),
        },
        {"benchmark": "redis_ping", "n": n, **_percentiles(pings)},
    ]
