"""What the get-work benchmarks share: client processes started together, and cleanup."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from typing import Any

import redis

__all__ = ["drop_namespace", "run_clients"]


def run_clients(
    client: Callable[..., None], target: Any, url: str, namespace: str, clients: int
) -> list[Any]:
    """Run ``client(target, url, namespace, index, barrier, out)`` in ``clients``
    processes that start together (the barrier); what each put on ``out``, one each."""
    ctx = mp.get_context("forkserver")
    barrier = ctx.Barrier(clients)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=client, args=(target, url, namespace, i, barrier, out))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


def drop_namespace(url: str, namespace: str) -> None:
    """Delete every key of ``namespace`` (a benchmark's own)."""
    cleanup = redis.Redis.from_url(url)
    try:
        for key in cleanup.scan_iter(match=f"{namespace}:*", count=1000):
            cleanup.delete(key)
    finally:
        cleanup.close()
