"""Get-work with the operators' features in the scripts, side by side with its floor.

Issue 16 added to the store work scripts: an attempts counter per claim (``HINCRBY``),
presence for the ranking (``ZADD``), the dead set, and cancel and update of queued and
claimed items (a cancelled id is remembered; complete and heartbeat check it). This
benchmark measures get-work p99 through the Python API on queues that operators have
churned, beside a bare ``ZPOPMIN`` in the same run, at 1 and 64 client processes:

- ``zpopmin``: a bare ``ZPOPMIN`` on one sorted set of the same size, the floor
  (``bench_getwork.FloorTarget``);
- ``api``: the store of ``bench_getwork.ApiTarget`` as it is, get-work then complete as
  below (no churn): what the churn costs is ``ops`` against it;
- ``ops``: the store of ``bench_getwork.ApiTarget`` (12 class queues, associates who
  may take every class), where before the run 10 % of the items were cancelled and
  10 % reprioritised (``WorkQueue.cancel``, ``WorkQueue.update``: the heads index moved
  with them); each client loops get-work (timed: ``p99_ms``) until nothing is left, as
  in ``bench_getwork``, then completes what it got (timed apart: ``complete_p99_ms``;
  complete checks the cancelled set; the clients still draining compete with it).

Each target is measured ``rounds`` times per concurrency (3; 1 with ``--quick``),
alternating; rows carry the median p50/p99 and throughput, every round's p99, the
duplicates (items handed out twice: must be 0) and ``p99_vs_floor`` (goal: <= 2).

    python -m bench bench_work_ops [--quick]
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from collections.abc import Callable
from functools import partial
from multiprocessing.synchronize import Barrier
from typing import Any

import numpy as np
import redis

from bench.bench_getwork import STORE, ApiTarget, FloorTarget
from bench.clients import alternating, drop_namespace, favoured_redis, run_clients
from jarvis.store.work.queue import WorkQueue

CONCURRENCY = (1, 64)
#: One in this many items is cancelled, and one in this many reprioritised, before a run.
CHURN_EVERY = 10

#: A client's calls: get-work (the id it got, or None), and what it does with the item.
Calls = tuple[Callable[[], str | None], Callable[[str], None]]


class FloorOps:
    name = "zpopmin"

    def prepare(self, url: str, namespace: str, n_items: int, clients: int) -> int:
        FloorTarget().prepare(url, namespace, n_items, clients)
        return n_items

    def calls(self, url: str, namespace: str, index: int) -> Calls:
        return FloorTarget().getter(url, namespace, index), lambda item: None


class StoreOps:
    """``churn``: cancel and reprioritise before the run (target ``ops``); without it,
    bench_getwork's store as it is (target ``api``)."""

    def __init__(self, churn: bool = True) -> None:
        self.churn = churn
        self.name = "ops" if churn else "api"

    def prepare(self, url: str, namespace: str, n_items: int, clients: int) -> int:
        """The store of bench_getwork, then churned; how many items remain queued."""
        ApiTarget().prepare(url, namespace, n_items, clients)
        client = redis.Redis.from_url(url)
        wq = WorkQueue(client, namespace)
        cancelled = 0
        for i in range(0, n_items if self.churn else 0, CHURN_EVERY):
            cancelled += int(wq.cancel(STORE, f"w{i}"))
            wq.update(STORE, f"w{i + 1}", {"priority": (i * 17) % 101})
        client.close()
        return n_items - cancelled

    def calls(self, url: str, namespace: str, index: int) -> Calls:
        wq = WorkQueue(redis.Redis.from_url(url), namespace, claim_ttl=600.0)
        wq.redis.ping()  # connect now: connecting is not part of get-work
        associate = f"a{index}"
        tokens: dict[str, int] = {}

        def get() -> str | None:
            claim = wq.get_work(associate)
            if claim is None:
                return None
            tokens[claim.item.id] = claim.token
            return claim.item.id

        def complete(item: str) -> None:
            wq.complete(STORE, item, associate, tokens.pop(item))

        return get, complete


TARGETS = (FloorOps(), StoreOps(churn=False), StoreOps())


def _client(
    target: FloorOps | StoreOps, url: str, namespace: str, index: int, barrier: Barrier, out: Any
) -> None:
    get, after = target.calls(url, namespace, index)
    latencies: list[float] = []
    after_latencies: list[float] = []
    got: list[str] = []
    barrier.wait()
    started = time.monotonic()
    while True:
        t = time.perf_counter()
        item = get()
        latencies.append(time.perf_counter() - t)
        if item is None:
            break
        got.append(item)
    finished = time.monotonic()
    for item in got:  # after draining, so get-work is measured as bench_getwork does
        t = time.perf_counter()
        after(item)
        after_latencies.append(time.perf_counter() - t)
    out.put((latencies, after_latencies, got, started, finished))


def _measure(target: FloorOps | StoreOps, url: str, n_items: int, clients: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    queued = target.prepare(url, namespace, n_items, clients)
    results = run_clients(_client, target, url, namespace, clients)
    latencies = np.concatenate([np.asarray(r[0]) for r in results]) * 1000.0
    after = np.concatenate([np.asarray(r[1]) for r in results]) * 1000.0
    got = [item for r in results for item in r[2]]
    elapsed = max(r[4] for r in results) - min(r[3] for r in results)
    drop_namespace(url, namespace)
    row: dict[str, Any] = {
        "benchmark": "work_ops",
        "target": target.name,
        "clients": clients,
        "n": queued,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "ops_per_s": len(got) / elapsed,
        "handed_out": len(got),
        "duplicates": len(got) - len(set(got)),
    }
    if isinstance(target, StoreOps):
        row["complete_p99_ms"] = float(np.percentile(after, 99))
    return row


def _combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    row = dict(rounds[0])
    for key in ("p50_ms", "p99_ms", "ops_per_s", "complete_p99_ms"):
        if key in row:
            row[key] = float(np.median([r[key] for r in rounds]))
    row["handed_out"] = min(r["handed_out"] for r in rounds)
    row["duplicates"] = sum(r["duplicates"] for r in rounds)
    row["rounds"] = len(rounds)
    row["p99_ms_each"] = [round(r["p99_ms"], 3) for r in rounds]
    return row


def run(
    quick: bool = False, concurrency: tuple[int, ...] = CONCURRENCY, rounds: int | None = None
) -> list[dict[str, Any]]:
    """Every target at every concurrency, ``rounds`` times each, alternating targets."""
    n_items = 2_000 if quick else 10_000
    rounds = rounds or (1 if quick else 3)
    mp.set_forkserver_preload([__name__])
    rows: list[dict[str, Any]] = []
    with favoured_redis() as (server, favoured):
        for clients in concurrency:
            measured = alternating(
                TARGETS, partial(_measure, url=server.url, n_items=n_items, clients=clients), rounds
            )
            floor = _combine(measured[TARGETS[0].name])
            rows.append(floor)
            for target in TARGETS[1:]:
                row = _combine(measured[target.name])
                row["p99_vs_floor"] = row["p99_ms"] / floor["p99_ms"]
                rows.append(row)
        for row in rows:
            row["redis_nice"] = favoured
    return rows
