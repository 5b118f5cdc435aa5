"""Fixtures for the election tests: a fresh cluster name, members as threads, a registry."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from kazoo.client import KazooClient

from jarvis.election import ClusterView, Member, MemberOptions, PartitionRegistry
from tests.election.recorder import Recorder, Timeline

#: Short sessions and a quick rebalance keep the tests fast (the test ZooKeeper's
#: tickTime of 200 ms grants sessions from 0.4 s to 4 s).
FAST: dict[str, Any] = {
    "session_timeout": 3.0,
    "rebalance_interval": 0.2,
    "max_moves_per_interval": 5,
    "settle_delay": 0.15,
}

Spawn = Callable[..., Member]


@pytest.fixture
def cluster() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def registry(zk: KazooClient, cluster: str) -> PartitionRegistry:
    return PartitionRegistry(zk, cluster)


@pytest.fixture
def view(zk: KazooClient, cluster: str) -> ClusterView:
    return ClusterView(zk, cluster)


@pytest.fixture
def spawn(zk_hosts: str, cluster: str, timeline: Timeline) -> Iterator[Spawn]:
    """Start a member (with a Recorder on the shared timeline unless recorded=False)."""
    started: list[Member] = []

    def start(
        member_id: str,
        zone: str,
        recorded: bool = True,
        loads: Callable[[], Mapping[str, float]] | None = None,
        **options: Any,
    ) -> Member:
        recorder = Recorder(member_id, timeline) if recorded else None
        settings = MemberOptions(zk_hosts, cluster, member_id, zone, **{**FAST, **options})
        member = Member(settings, recorder, loads=loads)
        if recorder is not None:
            recorder.member = member
        member.start()
        started.append(member)
        return member

    yield start
    for member in started:
        member.stop()


def add_partitions(registry: PartitionRegistry, count: int, kind: str = "city") -> list[str]:
    ids = [f"p{i:03d}" for i in range(count)]
    for partition_id in ids:
        registry.add(partition_id, "city" if kind == "city" else "store")
    return ids


def counts(view: ClusterView) -> dict[str | None, int]:
    """Partitions per owner (None: unowned), as ZooKeeper has them."""
    result: dict[str | None, int] = {}
    for row in view.partitions():
        result[row.owner] = result.get(row.owner, 0) + 1
    return result


def balanced(view: ClusterView, expected: dict[str, int]) -> bool:
    return counts(view) == expected
