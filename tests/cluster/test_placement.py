"""Operator placement controls on a real cluster under traffic; the checker judges."""

from __future__ import annotations

import time

from jarvis.election import ClusterView, MoveRequest, PlacementControls
from tests.cluster.conftest import CITIES, MEMBERS, TICK, Scenario
from tests.faults import wait_for


def test_move_under_traffic_hands_a_city_over_within_a_tick_and_the_checker_stays_clean(
    scenario: Scenario,
) -> None:
    scenario.start()
    wait_for(scenario.all_owned, 20, "every city has an owner")
    wait_for(scenario.dispatching(20), 20, "dispatching under way")
    city = CITIES[0]
    (row,) = [
        r
        for r in ClusterView(scenario.cluster.admin, scenario.cluster.cluster).partitions()
        if r.partition == city
    ]
    source, epoch = row.owner, row.epoch
    target = next(name for name, _ in MEMBERS if name != source)
    controls = PlacementControls(scenario.cluster.admin, scenario.cluster.cluster)
    controls.request_move(city, MoveRequest(member=target, requested_at=time.time()))
    wait_for(lambda: scenario.owners()[city] == target, 20, f"{city} moved to {target}")
    wait_for(lambda: city not in controls.read().moves, 10, "the move request removed")

    report = scenario.finish()
    assert report.double_assignments == 0, report.partitions
    assert report.over_capacity == 0, report.partitions
    assert report.stale_commits == 0, report.partitions
    assert report.unresolved == 0, report.partitions
    assert report.assignments > 0
    moved = report.partitions[city]
    # A graceful handoff: one ownership after the one asked to move, and no decision
    # round missed in between.
    assert epoch in moved.epochs, moved.epochs
    assert len(moved.epochs[moved.epochs.index(epoch) :]) == 2, moved.epochs
    assert moved.largest_gap < 2 * TICK, moved.largest_gap
