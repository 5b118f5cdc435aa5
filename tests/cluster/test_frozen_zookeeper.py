"""SIGSTOP the ZooKeeper server the members are connected to, under traffic.

Three ``jarvis run`` members on a three-server ensemble, 10 s sessions. The server with
the most member sessions is frozen: its members must leave it for another server with
their sessions (a third of the session timeout of silence), keep every partition with
the same epoch past the step-down deadline, and the checker must find a clean history
whose largest decision gap is at most a third of the session timeout plus one tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from jarvis.election import ClusterView
from jarvis.store.decisions import read_decisions
from jarvis.testing.checker import check_cluster
from jarvis.testing.cluster import LocalCluster
from jarvis.testing.servers import ZooKeeperServer
from tests.cluster.conftest import CITIES, MEMBERS, TICK, Scenario
from tests.faults import wait_for

SESSION_TIMEOUT = 10.0


@pytest.fixture
def ensemble_scenario(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    with LocalCluster(
        cluster="t", tick=TICK, session_timeout=SESSION_TIMEOUT, ensemble=True
    ) as cluster:
        scenario = Scenario(cluster)
        try:
            yield scenario
        finally:
            scenario.traffic.stop()
            scenario.redis.close()
            request.node.cluster_logs = list(cluster.logs())


def _owners_and_epochs(scenario: Scenario) -> dict[str, tuple[str | None, int | None]]:
    rows = ClusterView(scenario.cluster.admin, scenario.cluster.cluster).partitions()
    return {r.partition: (r.owner, r.epoch) for r in rows}


def _decided_by(scenario: Scenario, city: str, after: float, epoch: int) -> Callable[[], bool]:
    """A condition: ``city`` has a tick at or after ``after`` from exactly ``epoch``."""

    def check() -> bool:
        return any(
            d.type == "tick" and d.at >= after and d.epoch == epoch
            for d in read_decisions(scenario.redis, city, count=100000)
        )

    return check


def _session(cluster: LocalCluster, name: str) -> int:
    session = wait_for(lambda: cluster.member_session(name), 10, f"{name}'s session is known")
    assert session is not None
    return session


def _server_of(cluster: LocalCluster, session: int, name: str) -> ZooKeeperServer:
    server = wait_for(lambda: cluster.zookeeper_of(session), 10, f"{name}'s server is known")
    assert server is not None
    return server


def _moved(cluster: LocalCluster, session: int, frozen: ZooKeeperServer) -> Callable[[], bool]:
    def check() -> bool:
        return cluster.zookeeper_of(session) not in (None, frozen)

    return check


def test_members_leave_a_frozen_zookeeper_server_and_keep_their_partitions(
    ensemble_scenario: Scenario,
) -> None:
    scenario = ensemble_scenario
    cluster = scenario.cluster
    scenario.start()
    wait_for(scenario.all_owned, 30, "every city has an owner")
    wait_for(scenario.dispatching(10), 20, "dispatching under way")
    before = _owners_and_epochs(scenario)

    sessions = {name: _session(cluster, name) for name, _ in MEMBERS}
    on: dict[int, list[str]] = {}
    servers: dict[int, ZooKeeperServer] = {}
    for name, session in sessions.items():
        server = _server_of(cluster, session, name)
        on.setdefault(server.port, []).append(name)
        servers[server.port] = server
    port = max(on, key=lambda p: len(on[p]))
    frozen, movers = servers[port], on[port]

    cluster.pause_zookeeper(frozen)
    frozen_at = time.time()
    try:
        for name in movers:
            wait_for(
                _moved(cluster, sessions[name], frozen),
                SESSION_TIMEOUT,
                f"member {name} moved off the frozen server with its session",
            )
        # Every city is still decided by the same ownership after the moment a member
        # that stayed put would have stepped down (two thirds of the session timeout).
        past_step_down = frozen_at + SESSION_TIMEOUT * 2 / 3 + TICK
        for city, (_, epoch) in before.items():
            assert epoch is not None, city
            wait_for(
                _decided_by(scenario, city, past_step_down, epoch),
                SESSION_TIMEOUT + 10,
                f"{city} decided past the step-down deadline by the same epoch {epoch}",
            )
        assert _owners_and_epochs(scenario) == before
    finally:
        cluster.resume_zookeeper(frozen)
    assert all(m.alive for m in cluster.members.values())

    report = scenario.finish()
    assert report.double_assignments == 0, report.partitions
    assert report.over_capacity == 0, report.partitions
    assert report.stale_commits == 0, report.partitions
    assert report.unresolved == 0, report.partitions
    assert report.assignments > 0
    largest = {p: r.largest_gap for p, r in report.partitions.items()}
    assert report.largest_gap <= SESSION_TIMEOUT / 3 + TICK, largest
    assert check_cluster(scenario.redis, CITIES, cluster.namespace).ok
