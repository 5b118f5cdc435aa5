"""Faults thrown at a real cluster under traffic; the checker judges what it did.

Each scenario ends with the checker over every city's full history: no task assigned
twice, no courier over capacity, no commit accepted from a stale epoch, every accepted
order resolved.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from jarvis.election import ClusterView
from jarvis.store.decisions import read_decisions
from jarvis.testing.checker import Report
from jarvis.testing.cluster import LocalCluster
from tests.cluster.conftest import CITIES, SESSION_TIMEOUT, TICK, Scenario
from tests.faults import wait_for


def _assert_clean(scenario: Scenario) -> Report:
    report = scenario.finish()
    assert report.double_assignments == 0, report.partitions
    assert report.over_capacity == 0, report.partitions
    assert report.stale_commits == 0, report.partitions
    assert report.unresolved == 0, report.partitions
    assert report.assignments > 0
    return report


def _decided_since(
    scenario: Scenario, city: str, since: float, epoch_above: int
) -> Callable[[], bool]:
    """A condition: ``city`` has a tick at or after ``since`` from a newer epoch."""

    def check() -> bool:
        return any(
            d.type == "tick" and d.at >= since and d.epoch > epoch_above
            for d in read_decisions(scenario.redis, city, count=100000)
        )

    return check


def _epochs(scenario: Scenario) -> dict[str, int]:
    rows = ClusterView(scenario.cluster.admin, scenario.cluster.cluster).partitions()
    return {r.partition: r.epoch or 0 for r in rows}


def test_rolling_restart_under_traffic_misses_no_decision_round(scenario: Scenario) -> None:
    scenario.start()
    wait_for(scenario.all_owned, 20, "every city has an owner")
    wait_for(scenario.dispatching(20), 20, "dispatching under way")
    restart_started = time.time()
    scenario.cluster.rolling_restart()
    wait_for(scenario.all_owned, 10, "every city owned after the restart")
    report = _assert_clean(scenario)
    # A graceful rolling deploy makes no partition miss a tick: consecutive decisions of
    # a city stay less than two tick intervals apart, through every handoff.
    assert report.largest_gap < 2 * TICK, {p: r.largest_gap for p, r in report.partitions.items()}
    # And ownership really moved: every city saw more than one epoch during the restart.
    for city, part in report.partitions.items():
        assert len(part.epochs) >= 2, (city, part.epochs, restart_started)


def test_kill_9_partitions_are_decided_again_within_the_session_timeout(
    scenario: Scenario,
) -> None:
    scenario.start()
    wait_for(scenario.all_owned, 20, "every city has an owner")
    wait_for(scenario.dispatching(10), 20, "dispatching under way")
    owners = scenario.owners()
    epochs = _epochs(scenario)
    victims = [city for city, owner in owners.items() if owner == "m2"]
    assert victims, owners
    killed_at = time.time()
    scenario.cluster.kill_member("m2")
    for city in victims:
        wait_for(
            _decided_since(scenario, city, killed_at, epochs[city]),
            SESSION_TIMEOUT + TICK + 5,
            f"{city} decided again by a new owner after kill -9 of its owner",
        )
    _assert_clean(scenario)


def test_paused_member_cannot_write_after_it_is_resumed(scenario: Scenario) -> None:
    scenario.start()
    wait_for(scenario.all_owned, 20, "every city has an owner")
    owners = scenario.owners()
    epochs = _epochs(scenario)
    victims = [city for city, owner in owners.items() if owner == "m1"]
    paused_at = time.time()
    scenario.cluster.pause_member("m1")
    for city in victims:
        wait_for(
            _decided_since(scenario, city, paused_at, epochs[city]),
            SESSION_TIMEOUT * 3 + 5,
            f"{city} taken over while its owner is stopped",
        )
    scenario.cluster.resume_member("m1")
    # The resumed member rejoins with a new session and takes a fair share again.
    wait_for(
        lambda: "m1" in scenario.owners().values(), 30, "the resumed member owns partitions again"
    )
    assert scenario.cluster.members["m1"].alive
    _assert_clean(scenario)  # no stale commit was accepted from the paused owner


def test_redis_restart_loses_nothing_and_dispatching_resumes(scenario: Scenario) -> None:
    scenario.start()
    wait_for(scenario.all_owned, 20, "every city has an owner")
    wait_for(scenario.dispatching(10), 20, "dispatching under way")
    scenario.cluster.restart_redis()
    restarted_at = time.time()
    for city in CITIES:
        wait_for(
            _decided_since(scenario, city, restarted_at, -1),
            20,
            f"{city} ticks again after the Redis restart",
        )
    assert all(m.alive for m in scenario.cluster.members.values())
    _assert_clean(scenario)


def test_losing_the_zookeeper_leader_keeps_every_city_dispatched() -> None:
    with LocalCluster(
        cluster="t", tick=TICK, session_timeout=SESSION_TIMEOUT * 2, ensemble=True
    ) as cluster:
        scenario = Scenario(cluster)
        try:
            scenario.start()
            wait_for(scenario.all_owned, 30, "every city has an owner")
            leader = cluster.kill_zookeeper_leader()
            killed_at = time.time()
            for city in CITIES:
                wait_for(
                    _decided_since(scenario, city, killed_at + 1, -1),
                    SESSION_TIMEOUT * 2 + 10,
                    f"{city} decided again after the ZooKeeper leader {leader.port} died",
                )
            wait_for(scenario.all_owned, 30, "every city owned under the new leader")
            assert all(m.alive for m in cluster.members.values())
            _assert_clean(scenario)
        finally:
            scenario.traffic.stop()
            scenario.redis.close()
