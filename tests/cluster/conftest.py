"""A real multi-process cluster per test: servers, three `jarvis run` members, traffic."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest
import redis

from jarvis.election import ClusterView, PartitionRegistry
from jarvis.errors import StoreError
from jarvis.store.decisions import read_decisions
from jarvis.testing.checker import Report, check_cluster
from jarvis.testing.cluster import LocalCluster
from jarvis.testing.traffic import CityTraffic

CITIES = [f"city-{i}" for i in range(6)]
MEMBERS = [("m1", "a"), ("m2", "b"), ("m3", "c")]
TICK = 0.5
SESSION_TIMEOUT = 4.0


class Scenario:
    """The cluster under test, its traffic, and the checks every scenario ends with."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.traffic = CityTraffic(
            cluster.redis_url,
            CITIES,
            namespace=cluster.namespace,
            redis_mode="cluster" if cluster.redis_mode == "cluster" else "standalone",
        )
        self.redis = cluster.redis_client()

    def start(self) -> None:
        registry = PartitionRegistry(self.cluster.admin, self.cluster.cluster)
        for city in CITIES:
            registry.add(city, "city")
        for name, zone in MEMBERS:
            self.cluster.start_member(name, zone)
        self.traffic.start()

    def dispatching(self, more_than: int) -> Callable[[], bool]:
        """A condition: the cities' out streams in Redis hold more than ``more_than``
        assignments."""

        def check() -> bool:
            seen = 0
            for city in CITIES:
                decisions = read_decisions(
                    self.redis, city, count=100000, namespace=self.cluster.namespace
                )
                seen += sum(d.type == "assignment" for d in decisions)
            return seen > more_than

        return check

    def owners(self) -> dict[str, str | None]:
        rows = ClusterView(self.cluster.admin, self.cluster.cluster).partitions()
        return {row.partition: row.owner for row in rows}

    def ticked_since(self, city: str, since: float) -> bool:
        """``city``'s out stream holds a tick marker later than ``since`` (unix s).

        False while the stream cannot be read: after a primary is lost, ZooKeeper can
        hand every city to a surviving member before Redis has promoted a replica, and
        until then the test's own client is refused by the lost node (the callers'
        deadline still fails a city that never becomes readable and ticks again)."""
        namespace = self.cluster.namespace
        try:
            decisions = read_decisions(self.redis, city, count=100000, namespace=namespace)
        except StoreError as exc:
            if isinstance(exc.__cause__, redis.RedisError):  # not readable yet
                return False
            raise
        return any(d.type == "tick" and d.at > since for d in decisions)

    def all_owned(self) -> bool:
        owners = self.owners()
        return len(owners) == len(CITIES) and all(owners.values())

    def finish(self, drain_seconds: float = 4.0) -> Report:
        """Stop new orders, let the rest be delivered, stop traffic, check the history."""
        from tests.faults import wait_for

        self.traffic.quiet()
        wait_for(
            lambda: check_cluster(self.redis, CITIES, self.cluster.namespace).unresolved == 0,
            drain_seconds + 20,
            "every accepted order was assigned or cancelled",
        )
        self.traffic.stop()
        return check_cluster(self.redis, CITIES, self.cluster.namespace)


def run_scenario(request: pytest.FixtureRequest, **options: Any) -> Iterator[Scenario]:
    """A :class:`Scenario` on ``LocalCluster(**options)`` (tick and session timeout as
    above), for a fixture to ``yield from``; the members' logs go to a failed report."""
    with LocalCluster(
        cluster="t", tick=TICK, session_timeout=SESSION_TIMEOUT, **options
    ) as cluster:
        s = Scenario(cluster)
        try:
            yield s
        finally:
            s.traffic.stop()
            s.redis.close()
            request.node.cluster_logs = list(cluster.logs())


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    yield from run_scenario(request)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "teardown":
        for name, tail in getattr(item, "cluster_logs", []):
            if report.failed or getattr(item, "_cluster_failed", False):
                report.sections.append((f"{name} log (tail)", tail or "(empty)"))
    elif report.failed:
        item._cluster_failed = True  # type: ignore[attr-defined]
