"""Measured weights (pure): coarse steps, a smoothed average, and when to publish."""

from __future__ import annotations

import pytest

from jarvis.election.measured import MeasuredLoads, measured_weight


def test_a_measured_weight_is_at_least_one_and_moves_in_coarse_steps() -> None:
    assert measured_weight(0, 100) == 1.0
    assert measured_weight(100, 100) == 1.0
    assert measured_weight(400, 100) == 4.0
    assert measured_weight(4000, 100) == pytest.approx(38.05)
    # Loads within a step of each other weigh the same: no churn from noise.
    assert measured_weight(390, 100) == measured_weight(410, 100)


def test_the_average_is_smoothed_with_its_half_life() -> None:
    open_tasks = {"big": 800.0}
    loads = MeasuredLoads(lambda: open_tasks, unit=100, half_life=10, publish_interval=0)
    loads.update(["big"], now=0.0)
    assert loads.weights() == {"big": 8.0}
    open_tasks["big"] = 0.0
    loads.update(["big"], now=10.0)  # one half-life later: half way down
    assert loads.weights() == {"big": 4.0}
    loads.update([], now=11.0)  # no longer ours: forgotten
    assert loads.weights() == {}


def test_a_new_partition_starts_from_the_weight_last_published_for_it() -> None:
    loads = MeasuredLoads(lambda: {"small": 0.0}, unit=100, half_life=10, publish_interval=0)
    # Neither has ticked here yet but "small": "big" starts where it was, "late" is
    # not measured at all (not taken for idle).
    loads.update(["big", "small", "late"], now=0.0, seed={"big": 8.0})
    assert loads.weights() == {"big": 8.0, "small": 1.0}


def test_weights_are_published_when_they_change_at_most_once_per_interval() -> None:
    open_tasks = {"a": 400.0}
    loads = MeasuredLoads(lambda: open_tasks, unit=100, half_life=1, publish_interval=30)
    loads.update(["a"], now=0.0)
    first = loads.due(0.0)
    assert first == {"a": 4.0}
    loads.mark_published(first, 0.0)
    open_tasks["a"] = 1600.0
    loads.update(["a"], now=20.0)
    assert loads.due(20.0) is None  # changed, but within the interval
    assert loads.due(31.0) == {"a": 16.0}
    loads.mark_published({"a": 16.0}, 31.0)
    assert loads.due(70.0) is None  # past the interval, but nothing changed
