"""How many idle partitions one member ticks on time.

One real ``jarvis run`` member (tick 1 s) is given 500 / 1,000 / 2,000 / 4,000 idle
partitions (stores and cities, 9:1), registered with
:class:`~jarvis.election.PartitionRegistry`. Once it owns every one, its ``/metrics`` are
read at the start and the end of a window:

- ``due_ticks_run``: ticks run (``jarvis_ticks_total``) over ticks due (partitions x
  window / tick); 1.0 means every partition ticked on time;
- ``p99_lateness_s``: 99th percentile of how late a tick started after it was due
  (``jarvis_tick_lateness_seconds``, from its histogram buckets: an upper bound);
- ``tick_errors``: ticks that raised during the window (``jarvis_tick_errors_total``);
- ``member_cpu``: CPU the member process used over the window, in cores
  (``/proc/<pid>/stat``);
- ``ticks_per_cpu_s``: ticks run per CPU-second of the member (the cost of an idle tick,
  steadier than the share of due ticks when other processes compete for the cores);
- ``idle_share``: share of the ticks recorded by the one-round-trip idle script
  (``jarvis_idle_ticks_total``);
- ``tick_rate`` / ``tick_rate_p01``: the mean and the 1st percentile over partitions of the
  ticks a partition ran between its last tick before the window and its last tick after
  it, over the ticks due in that span (``last_tick_at`` in Redis, the member's clock when
  each tick started; ``tick_rate_partitions``: those with a tick recorded before the
  window, the others have no start to count from). 1.0 means on time.
  ``due_ticks_run`` counts over the window, whose length is no whole number of ticks:
  partitions ticking on time in phase ran 20 or 21 ticks in a window of 20.4 s, 0.98 or
  1.03 of due; ``tick_rate`` has no such error;
- ``fair_min`` / ``fair_max``: the lowest and highest of those per-partition rates: every
  partition keeps ticking at an equal rate when both are close (counted over the window
  instead, as before, they carried ``due_ticks_run``'s phase error);
- ``settled_s``: seconds from every partition running an actor until the member's tick
  lag (``jarvis_tick_lag_seconds``) was under one tick, the window's start (None: not
  within ``SETTLE_LIMIT``, and the window starts anyway);
- ``step_downs``: how often the member stepped down (ZooKeeper silent for two thirds of
  its session timeout, as the member saw it) since it started, settling included
  (``jarvis_zookeeper_connection_states_total{state="stepped_down"}``);
- ``load_avg``: the machine's one-minute load average at the end (2 cores: above 2, the
  member competes for CPU), with ``tick_workers`` the member ran with, and its
  ``member_threads`` and ``member_rss_mb``.

The member may take every partition (``JARVIS_MAX_PARTITIONS`` is set to the size).

    python -m bench bench_capacity [--quick]

Run alone, ``python -m bench.bench_capacity PARTITIONS [SECONDS]`` keeps one member with
that many partitions running for a while and prints its pid, for a profiler
(``py-spy top --pid PID``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from jarvis.config import Settings
from jarvis.election import ClusterView, PartitionRegistry
from jarvis.store.keys import PartitionKeys
from jarvis.store.replication import RedisClient
from jarvis.testing.cluster import LocalCluster
from jarvis.testing.servers import free_port

TICK = 1.0
SIZES = (500, 1000, 2000, 4000)
QUICK_SIZES = (200, 400)
WINDOW = 20.0
QUICK_WINDOW = 6.0
SESSION_TIMEOUT = 10.0
#: Settled: wait this long after every partition is owned before measuring, and then
#: until the member's tick lag is under one tick (the first ticks of thousands of
#: partitions are full ticks, a backlog to work off), for at most SETTLE_LIMIT.
WARMUP = 5.0
SETTLE_LIMIT = 60.0


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"benchmark: never {what} within {timeout} s")
        time.sleep(0.2)


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Samples of metric ``name`` in a Prometheus text page: (labels, value)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        labels: dict[str, str] = {}
        if "{" in head:
            metric, _, rest = head.partition("{")
            for pair in rest.rstrip("}").split(","):
                if pair:
                    key, _, val = pair.partition("=")
                    labels[key] = val.strip('"')
        else:
            metric = head
        if metric == name:
            rows.append((labels, float(value)))
    return rows


def _total(text: str, name: str) -> float:
    return sum(v for _, v in _samples(text, name))


def _buckets(text: str, name: str) -> dict[float, float]:
    """Cumulative histogram buckets summed over labels: upper bound -> count."""
    out: dict[float, float] = {}
    for labels, value in _samples(text, name + "_bucket"):
        le = float(labels["le"])
        out[le] = out.get(le, 0.0) + value
    return out


def _quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """Upper bound of the ``q`` quantile of what was observed between two scrapes."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    goal = q * counts[-1]
    for bound, count in zip(bounds, counts, strict=True):
        if count >= goal:
            return bound
    return bounds[-1]


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()  # noqa: SIM115
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _partition_ids(partitions: int) -> list[str]:
    """Stores and cities, 9:1."""
    cities = partitions // 10
    return [f"s{i:05d}" for i in range(partitions - cities)] + [f"c{i:04d}" for i in range(cities)]


def _recorded_ticks(
    client: RedisClient, namespace: str, ids: list[str]
) -> dict[str, tuple[int, float]]:
    """The last tick each partition recorded in Redis: its number and when it started
    (its stats' ``tick`` and ``last_tick_at``)."""
    pipe = client.pipeline(transaction=False)
    for partition in ids:
        pipe.hmget(PartitionKeys(partition, namespace).stats, ["tick", "last_tick_at"])
    return {
        p: (int(tick or 0), float(at or 0.0))
        for p, (tick, at) in zip(ids, pipe.execute(), strict=True)
    }


def _tick_rates(
    before: dict[str, tuple[int, float]], after: dict[str, tuple[int, float]]
) -> list[float]:
    """Each partition's ticks run per tick due between its last tick before the window
    and its last tick after it: the ticks between, over that span's due ticks. Unlike a
    count over the window, it has no phase error (a window of 20.4 s holds 20 or 21 ticks
    of a partition ticking on time, so counts over it read 0.98 or 1.03)."""
    rates = []
    for partition, (tick1, at1) in after.items():
        tick0, at0 = before[partition]
        if at0 > 0 and at1 > at0:  # at0 0: no tick recorded yet when the window began
            rates.append((tick1 - tick0) * TICK / (at1 - at0))
    return sorted(rates)


def _threads_and_memory(pid: int) -> dict[str, int]:
    """The member's thread count and resident memory (MB), from ``/proc/<pid>/status``."""
    status = dict(
        line.split(":", 1)
        for line in open(f"/proc/{pid}/status").read().splitlines()  # noqa: SIM115
    )
    return {
        "member_threads": int(status["Threads"]),
        "member_rss_mb": int(status["VmRSS"].split()[0]) // 1024,
    }


def _start(partitions: int, extra_env: dict[str, str] | None = None) -> tuple[LocalCluster, str]:
    port = free_port()
    env = {"JARVIS_HTTP": f"127.0.0.1:{port}", "JARVIS_HTTP_READ_OPEN": "true"}
    env.update(extra_env or {})
    # The production session timeout (10 s; the ZooKeeper tick allows up to 20 s), not the
    # tests' 4 s: a member this loaded must not step down for a slow heartbeat.
    cluster = LocalCluster(
        cluster="capacity",
        tick=TICK,
        session_timeout=SESSION_TIMEOUT,
        zk_tick_time_ms=1000,
        log_level="WARNING",
        member_env=env,
    )
    cluster.start()
    registry = PartitionRegistry(cluster.admin, cluster.cluster)
    for partition in _partition_ids(partitions):
        registry.add(partition, "city" if partition.startswith("c") else "store")
    cluster.start_member("m1", "a")
    view = ClusterView(cluster.admin, cluster.cluster)
    _wait(
        lambda: sum(1 for r in view.partitions() if r.owner) == partitions,
        120,
        f"all {partitions} partitions owned",
    )
    url = f"http://127.0.0.1:{port}/metrics"
    with httpx.Client(timeout=30) as http:  # owned in ZooKeeper and running an actor
        _wait(
            lambda: _total(http.get(url).text, "jarvis_partitions_owned") == partitions,
            300,
            f"an actor running for each of the {partitions} partitions",
        )
    return cluster, url


def _settle(http: httpx.Client, url: str) -> float | None:
    """Wait ``WARMUP``, then until the tick lag is under one tick; how long it all took
    (None: the lag stayed above one tick for ``SETTLE_LIMIT``)."""
    started = time.monotonic()
    time.sleep(WARMUP)
    while time.monotonic() - started < WARMUP + SETTLE_LIMIT:
        if _total(http.get(url).text, "jarvis_tick_lag_seconds") < TICK:
            return round(time.monotonic() - started, 1)
        time.sleep(0.5)
    return None


def measure(
    partitions: int, window: float, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    env = {"JARVIS_MAX_PARTITIONS": str(partitions), **(extra_env or {})}
    cluster, url = _start(partitions, env)
    try:
        pid = cluster.members["m1"].proc.pid
        ids = _partition_ids(partitions)
        client = cluster.redis_client()
        with httpx.Client(timeout=30) as http:
            settled = _settle(http, url)
            before, cpu0, t0 = http.get(url).text, _cpu_seconds(pid), time.monotonic()
            ticks0 = _recorded_ticks(client, cluster.namespace, ids)
            time.sleep(window)
            after, cpu1, t1 = http.get(url).text, _cpu_seconds(pid), time.monotonic()
            ticks1 = _recorded_ticks(client, cluster.namespace, ids)
        client.close()
        elapsed = t1 - t0
        rates = _tick_rates(ticks0, ticks1)
        idle = _total(after, "jarvis_idle_ticks_total") - _total(before, "jarvis_idle_ticks_total")
        ticks = _total(after, "jarvis_ticks_total") - _total(before, "jarvis_ticks_total")
        errors = _total(after, "jarvis_tick_errors_total") - _total(
            before, "jarvis_tick_errors_total"
        )
        lateness = _quantile(
            _buckets(before, "jarvis_tick_lateness_seconds"),
            _buckets(after, "jarvis_tick_lateness_seconds"),
            0.99,
        )
        return {
            "benchmark": "capacity",
            "partitions": partitions,
            "tick_s": TICK,
            "window_s": round(elapsed, 1),
            "due_ticks_run": round(ticks / (partitions * elapsed / TICK), 3),
            "p99_lateness_s": lateness,
            "tick_errors": int(errors),
            "member_cpu": round((cpu1 - cpu0) / elapsed, 2),
            "ticks_per_cpu_s": round(ticks / max(cpu1 - cpu0, 1e-9)),
            "idle_share": round(idle / max(ticks, 1.0), 3),
            "tick_rate": round(sum(rates) / len(rates), 3) if rates else 0.0,
            "tick_rate_p01": round(rates[len(rates) // 100], 3) if rates else 0.0,
            "tick_rate_partitions": len(rates),
            "fair_min": round(rates[0], 3) if rates else 0.0,
            "fair_max": round(rates[-1], 3) if rates else 0.0,
            "settled_s": settled,
            "step_downs": int(
                sum(
                    v
                    for labels, v in _samples(after, "jarvis_zookeeper_connection_states_total")
                    if labels.get("state") == "stepped_down"
                )
            ),
            "load_avg": round(os.getloadavg()[0], 1),
            **_threads_and_memory(pid),
            "tick_workers": int(
                env.get("JARVIS_TICK_WORKERS", Settings.model_fields["tick_workers"].default)
            ),
        }
    finally:
        cluster.stop()


def run(quick: bool = False) -> list[dict[str, Any]]:
    sizes, window = (QUICK_SIZES, QUICK_WINDOW) if quick else (SIZES, WINDOW)
    rows = []
    for n in sizes:
        try:
            rows.append(measure(n, window))
        except RuntimeError as exc:  # a size the member could not even settle at
            rows.append({"benchmark": "capacity", "partitions": n, "failed": str(exc)})
    return rows


def hold(partitions: int, seconds: float) -> None:
    """One member with ``partitions`` partitions, kept running for a profiler."""
    cluster, url = _start(partitions, {"JARVIS_MAX_PARTITIONS": str(partitions)})
    try:
        member = cluster.members["m1"]
        print(f"member pid {member.proc.pid}; metrics at {url}; log {member.log_path}", flush=True)
        time.sleep(seconds)
    finally:
        cluster.stop()


if __name__ == "__main__":
    hold(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 60.0)
