"""Partition ownership: cold start of three members, and graceful handoffs.

Both are measured against the floor of the same ZooKeeper on the same machine, in the
same run:

- cold start: 3 members started together with N partitions (1,000; 200 with --quick),
  time until every partition is owned and the counts differ by at most one, against the
  time one client takes to create N ephemeral nodes one after another (target <= 5x);
- graceful handoff: time from the old owner's ``release_done`` (its tick finished) to
  the new owner's ``on_acquired``, p50 and p99 over 200 handoffs (50 with --quick),
  against the p99 of a single ephemeral-node create (target: p99 <= 5x).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import numpy as np
from kazoo.client import KazooClient

from jarvis.election import Member, MemberOptions, PartitionInfo, PartitionRegistry
from jarvis.testing.servers import DevCluster

#: The dev ZooKeeper's tickTime (200 ms) grants sessions of at most 4 s.
SESSION_TIMEOUT = 4.0


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def _create_floor(hosts: str, n: int) -> list[float]:
    """Seconds per ephemeral create, one after another, from one client."""
    client = KazooClient(hosts=hosts)
    client.start(timeout=15)
    root = f"/floor-{uuid.uuid4().hex[:8]}"
    client.ensure_path(root)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        client.create(f"{root}/n{i}", b"", ephemeral=True)
        samples.append(time.perf_counter() - started)
    client.stop()
    client.close()
    return samples


def _register(hosts: str, cluster: str, n: int) -> None:
    client = KazooClient(hosts=hosts)
    client.start(timeout=15)
    registry = PartitionRegistry(client, cluster)
    for i in range(n):
        registry.add(f"p{i:04d}", "city")
    client.stop()
    client.close()


def _cold_start(hosts: str, n: int) -> float:
    cluster = f"cold{uuid.uuid4().hex[:8]}"
    _register(hosts, cluster, n)
    members = [
        Member(MemberOptions(hosts, cluster, f"m{i}", f"z{i}", session_timeout=SESSION_TIMEOUT))
        for i in range(3)
    ]
    started = time.perf_counter()
    threads = [threading.Thread(target=m.start) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = started + 120
    while True:
        counts = [len(m.owned()) for m in members]
        if sum(counts) == n and max(counts) - min(counts) <= 1:
            elapsed = time.perf_counter() - started
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"cold start never converged: {counts}")
        time.sleep(0.002)
    for member in members:
        member.stop()
    return elapsed


class _Clock:
    """Records when each member released and acquired, for the handoff benchmark."""

    def __init__(self) -> None:
        self.released_at = 0.0
        self.acquired = threading.Event()
        self.acquired_at = 0.0


class _Listener:
    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.member: Member | None = None

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        self.clock.acquired_at = time.perf_counter()
        self.clock.acquired.set()

    def on_release_requested(self, partition_id: str, epoch: int) -> None:
        assert self.member is not None
        self.clock.released_at = time.perf_counter()
        self.member.release_done(partition_id, epoch)

    def on_lost(self, partition_id: str, epoch: int) -> None:
        pass

    def on_suspended(self) -> None:
        pass

    def on_resumed(self) -> None:
        pass


def _handoffs(hosts: str, rounds: int) -> list[float]:
    cluster = f"hand{uuid.uuid4().hex[:8]}"
    _register(hosts, cluster, 1)
    clock = _Clock()
    members = []
    for i in range(2):
        listener = _Listener(clock)
        options = MemberOptions(hosts, cluster, f"m{i}", f"z{i}", session_timeout=SESSION_TIMEOUT)
        member = Member(options, listener)
        listener.member = member
        member.start()
        members.append(member)
    if not clock.acquired.wait(30):
        raise RuntimeError("nobody took the partition")
    samples = []
    for _ in range(rounds):
        owner = next(m for m in members if m.owned())
        clock.acquired.clear()
        owner.release("p0000")
        if not clock.acquired.wait(30):
            raise RuntimeError("the handoff never completed")
        samples.append(clock.acquired_at - clock.released_at)
    for member in members:
        member.stop()
    return samples


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 200 if quick else 1000
    rounds = 50 if quick else 200
    with DevCluster() as servers:
        hosts = servers.zookeeper.hosts
        floor = _create_floor(hosts, n)
        cold = _cold_start(hosts, n)
        handoffs = _handoffs(hosts, rounds)
    floor_total = sum(floor)
    create_p99_ms = _ms(floor, 99)
    handoff_p99_ms = _ms(handoffs, 99)
    return [
        {
            "benchmark": "election_cold_start",
            "partitions": n,
            "members": 3,
            "converged_s": cold,
            "floor_sequential_creates_s": floor_total,
            "ratio": cold / floor_total,
            "target_ratio": 5.0,
        },
        {
            "benchmark": "election_handoff",
            "handoffs": rounds,
            "p50_ms": _ms(handoffs, 50),
            "p99_ms": handoff_p99_ms,
            "floor_create_p50_ms": _ms(floor, 50),
            "floor_create_p99_ms": create_p99_ms,
            "ratio_p99": handoff_p99_ms / create_p99_ms,
            "target_ratio": 5.0,
        },
    ]
