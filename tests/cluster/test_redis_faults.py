"""Redis Cluster faults under traffic; the checker judges every city's history.

Members run with ``--redis-mode cluster`` (every write confirmed by one replica) against
three primaries with one replica each (``cluster-node-timeout`` 2 s). A primary that is
killed or frozen is replaced by its replica; the partitions in its slots stall for
about the node timeout plus the replica's election, then go on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from jarvis.testing.redis_cluster import RedisCluster
from tests.cluster.conftest import CITIES, Scenario, run_scenario
from tests.faults import wait_for

#: A primary's slots are served again within this many seconds (node timeout 2 s, the
#: replica's election, the clients finding it), with a wide margin for a loaded machine.
FAILOVER_DEADLINE = 30.0


@pytest.fixture
def cluster_scenario(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    yield from run_scenario(request, redis_cluster=True)


def _redis(scenario: Scenario) -> RedisCluster:
    assert isinstance(scenario.cluster.redis, RedisCluster)
    return scenario.cluster.redis


def _victim(scenario: Scenario) -> tuple[str, int]:
    """A city and the port of the primary serving it."""
    city = CITIES[0]
    key = f"{scenario.cluster.namespace}:{{{city}}}:epoch"
    return city, _redis(scenario).primary_for(key).port


def _assert_clean(scenario: Scenario) -> None:
    report = scenario.finish()
    assert report.double_assignments == 0, report.partitions
    assert report.over_capacity == 0, report.partitions
    assert report.stale_commits == 0, report.partitions
    assert report.unresolved == 0, report.partitions
    assert report.assignments > 0


def test_a_killed_redis_primary_is_replaced_by_its_replica_and_dispatch_goes_on(
    cluster_scenario: Scenario,
) -> None:
    scenario = cluster_scenario
    redis = _redis(scenario)
    scenario.start()
    wait_for(scenario.all_owned, 20, "every city has an owner")
    wait_for(scenario.dispatching(20), 30, "dispatching under way")
    city, port = _victim(scenario)
    old = redis.node(port)
    killed_at = time.time()
    redis.kill(old)
    promoted = redis.wait_primary_replaced(old, FAILOVER_DEADLINE)
    for each in CITIES:
        wait_for(
            lambda each=each: scenario.ticked_since(each, killed_at),  # type: ignore[misc]
            FAILOVER_DEADLINE,
            f"{each} ticks again after primary {old.port} was killed ({city} was on it)",
        )
    # The lost node comes back as a replica of the one that replaced it: writes to
    # those slots are confirmed by a replica again.
    redis.restart(old)
    redis.wait_healthy()
    assert redis.role(old) == "slave"
    assert redis.role(promoted) == "master"
    _assert_clean(scenario)


def test_a_frozen_redis_primary_is_replaced_and_rejoins_as_a_replica(
    cluster_scenario: Scenario,
) -> None:
    scenario = cluster_scenario
    redis = _redis(scenario)
    scenario.start()
    wait_for(scenario.all_owned, 20, "every city has an owner")
    wait_for(scenario.dispatching(20), 30, "dispatching under way")
    city, port = _victim(scenario)
    old = redis.node(port)
    frozen_at = time.time()
    redis.pause(old)  # SIGSTOP, past cluster-node-timeout
    try:
        promoted = redis.wait_primary_replaced(old, FAILOVER_DEADLINE)
        wait_for(
            lambda: scenario.ticked_since(city, frozen_at),
            FAILOVER_DEADLINE,
            f"{city} ticks again while its old primary {old.port} is frozen",
        )
    finally:
        redis.resume(old)  # SIGCONT: it learns it was replaced and follows the new one
    redis.wait_healthy()
    assert redis.role(old) == "slave"
    assert redis.role(promoted) == "master"
    # Whatever the frozen node took in after it was replaced was never confirmed by a
    # replica, so never acknowledged; the checker sees no stale or double commit.
    _assert_clean(scenario)
