"""What the get-work benchmarks share: one Redis favoured over the clients, targets
measured in alternating rounds, client processes started together, and cleanup."""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import redis

from jarvis.testing.servers import RedisServer

__all__ = ["alternating", "drop_namespace", "favour", "favoured_redis", "run_clients"]


class Named(Protocol):
    name: str


T = TypeVar("T", bound=Named)


@contextmanager
def favoured_redis() -> Iterator[tuple[RedisServer, int]]:
    """A Redis server of the benchmark's own, running at a higher CPU priority than the
    client processes if allowed, and its niceness."""
    with tempfile.TemporaryDirectory(prefix="jarvis-bench-") as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            yield server, favour(server.pid)
        finally:
            server.stop()


def favour(pid: int | None) -> int:
    """Run process ``pid`` at the benchmark's Redis priority if allowed; its niceness."""
    nice = int(os.environ.get("JARVIS_BENCH_REDIS_NICE", "-10"))
    if pid is None:
        return 0
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError:
        return os.getpriority(os.PRIO_PROCESS, pid)
    return nice


def alternating(
    targets: Sequence[T], measure: Callable[[T], dict[str, Any]], rounds: int
) -> dict[str, list[dict[str, Any]]]:
    """Each target's rows, ``rounds`` of them, measured in turn (every target once per
    round), so that a burst of noise on a shared machine hits them alike."""
    measured: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    for _ in range(rounds):
        for target in targets:
            measured[target.name].append(measure(target))
    return measured


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
