"""Decision gaps through a rolling restart and a crash, against a single instance's restart.

All three measured in one run, on real `jarvis run` processes with 100 cities:

- ``rolling_restart``: three members (zones a, b, c); every member is restarted in turn
  (SIGTERM, drain, start again). Per city, the largest gap between two consecutive
  decision rounds during the whole run; reported as the largest and the 99th percentile
  over cities, as multiples of the tick.
- ``kill_9``: three members; one is killed with SIGKILL. For each city it owned, the gap
  from its last decision before the kill to the first one after, as a multiple of the
  session timeout (the bound a crash can promise: the session must expire first).
- ``single_instance_restart``: the before picture, one member owning every city,
  stopped (SIGTERM) and started again, as a deploy of a one-machine dispatcher would.

Each restart also reports ``moves_per_partition``: per city, the number of ownerships
that made a decision after the deploy began, minus one (the ownership it began with),
averaged over cities (goal of a deploy: 1.0, each city moves once). Two surge deploys
sit beside the rolling restart: each new member starts (and is ready) before its old
one drains, once announcing the same version (how every deploy looked to the cluster
before members compared versions) and once a newer one (version-aware placement).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import redis

from jarvis import __version__
from jarvis.election import ClusterView, PartitionRegistry
from jarvis.store.decisions import read_decisions
from jarvis.testing.checker import check_cluster
from jarvis.testing.cluster import LocalCluster
from jarvis.testing.traffic import CityTraffic

TICK = 1.0
SESSION_TIMEOUT = 4.0


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"benchmark: never {what} within {timeout} s")
        time.sleep(0.05)


def _cluster(cities: list[str], members: list[tuple[str, str]]) -> tuple[LocalCluster, CityTraffic]:
    cluster = LocalCluster(cluster="bench", tick=TICK, session_timeout=SESSION_TIMEOUT).start()
    registry = PartitionRegistry(cluster.admin, cluster.cluster)
    for city in cities:
        registry.add(city, "city")
    for name, zone in members:
        cluster.start_member(name, zone)
    view = ClusterView(cluster.admin, cluster.cluster)
    _wait(lambda: all(r.owner for r in view.partitions()), 60, "every city owned")
    _wait(lambda: _balanced(view, len(members)), 120, "ownership balanced")
    traffic = CityTraffic(cluster.redis_url, cities, couriers_per_city=2, orders_per_second=0.3)
    traffic.start(interval=0.25)
    return cluster, traffic


def _balanced(view: ClusterView, members: int) -> bool:
    counts = [m.partitions for m in view.members()]
    return len(counts) == members and max(counts) - min(counts) <= 1


def _gaps(cluster: LocalCluster, traffic: CityTraffic, cities: list[str]) -> np.ndarray:
    """Let the last orders be assigned, stop the traffic, check the history, per-city gaps."""
    client = redis.Redis.from_url(cluster.redis_url, decode_responses=True)
    traffic.quiet()
    _wait(lambda: check_cluster(client, cities).unresolved == 0, 60, "every order resolved")
    traffic.stop()
    report = check_cluster(client, cities)
    client.close()
    if not report.ok:
        raise RuntimeError(f"benchmark run violated an invariant: {report.summary()}")
    return np.array([report.partitions[c].largest_gap for c in cities])


def _ticks(cluster: LocalCluster, city: str) -> list[float]:
    client = redis.Redis.from_url(cluster.redis_url, decode_responses=True)
    ats = [d.at for d in read_decisions(client, city, count=100000) if d.type == "tick"]
    client.close()
    return ats


def _moves(cluster: LocalCluster, cities: list[str], since: float) -> np.ndarray:
    """Per city: ownerships (epochs) that decided at or after ``since``, minus one."""
    client = redis.Redis.from_url(cluster.redis_url, decode_responses=True)
    moves = []
    for city in cities:
        epochs = {d.epoch for d in read_decisions(client, city, count=100000) if d.at >= since}
        moves.append(max(0, len(epochs) - 1))
    client.close()
    return np.array(moves, dtype=float)


def _restart_gaps(
    name: str, cities: list[str], members: list[tuple[str, str]], restart: Any
) -> dict[str, Any]:
    """Per-city largest decision gap, in ticks, and moves per city, through
    ``restart(cluster)``."""
    cluster, traffic = _cluster(cities, members)
    try:
        time.sleep(3 * TICK)
        began = time.time()
        restart(cluster)
        view = ClusterView(cluster.admin, cluster.cluster)
        _wait(lambda: _balanced(view, len(members)), 120, "ownership balanced after the deploy")
        time.sleep(3 * TICK)
        gaps = _gaps(cluster, traffic, cities) / TICK
        moves = _moves(cluster, cities, began)
    finally:
        traffic.stop()
        cluster.stop()
    return {"benchmark": name, "cities": len(cities), "members": len(members),
            "largest_gap_ticks": float(gaps.max()), "p99_gap_ticks": float(np.percentile(gaps, 99)),
            "moves_per_partition": float(moves.mean()), "max_moves": int(moves.max()),
            "tick_s": TICK}  # fmt: skip


def _rolling(cities: list[str]) -> dict[str, Any]:
    return _restart_gaps(
        "rolling_restart", cities, [("m1", "a"), ("m2", "b"), ("m3", "c")],
        lambda cluster: cluster.rolling_restart(),
    )  # fmt: skip


def _surge(cities: list[str], version: str, name: str) -> dict[str, Any]:
    """Each new member (announcing ``version``) starts before its old one drains."""

    def deploy(cluster: LocalCluster) -> None:
        for old, member in list(cluster.members.items()):
            cluster.start_member(f"{old}-new", member.zone, version=version)
            code = cluster.stop_member(old)
            if code != 0:
                raise RuntimeError(f"member {old} exited with {code} on SIGTERM")

    return _restart_gaps(name, cities, [("m1", "a"), ("m2", "b"), ("m3", "c")], deploy)


def _single(cities: list[str]) -> dict[str, Any]:
    """The before picture: the only member stopped and started again."""

    def restart(cluster: LocalCluster) -> None:
        cluster.stop_member("solo")
        cluster.start_member("solo", "a")
        view = ClusterView(cluster.admin, cluster.cluster)
        _wait(lambda: all(r.owner for r in view.partitions()), 60, "every city owned again")

    return _restart_gaps("single_instance_restart", cities, [("solo", "a")], restart)


def _kill(cities: list[str]) -> dict[str, Any]:
    cluster, traffic = _cluster(cities, [("m1", "a"), ("m2", "b"), ("m3", "c")])
    try:
        time.sleep(3 * TICK)
        owned = [r.partition for r in ClusterView(cluster.admin, "bench").partitions()
                 if r.owner == "m2"]  # fmt: skip
        killed_at = time.time()
        cluster.kill_member("m2")
        time.sleep(SESSION_TIMEOUT + 4 * TICK)
        _gaps(cluster, traffic, cities)  # the invariants must hold through the crash too
        gaps = []
        for city in owned:
            ats = _ticks(cluster, city)
            before = max(a for a in ats if a <= killed_at)
            after = min(a for a in ats if a > killed_at)
            gaps.append(after - before)
    finally:
        traffic.stop()
        cluster.stop()
    arr = np.array(gaps) / SESSION_TIMEOUT
    return {"benchmark": "kill_9", "cities_of_victim": len(owned),
            "largest_gap_session_timeouts": float(arr.max()),
            "p99_gap_session_timeouts": float(np.percentile(arr, 99)),
            "session_timeout_s": SESSION_TIMEOUT}  # fmt: skip


def run(quick: bool = False) -> list[dict[str, Any]]:
    cities = [f"city-{i:03d}" for i in range(20 if quick else 100)]
    return [
        _rolling(cities),
        _surge(cities, __version__, "surge_deploy_same_version"),
        _surge(cities, f"{__version__}.1", "surge_deploy_new_version"),
        _kill(cities),
        _single(cities),
    ]
