"""Reassignment in the simulator: the city's own find_moves, applied to couriers' routes."""

from __future__ import annotations

import dataclasses

import pytest

from jarvis.models import CityConfig
from jarvis.sim import Scenario, kpis, policy_for, simulate
from jarvis.sim.couriers import Shift
from jarvis.sim.day import Day
from tests.sim.days import T0, day, order, point, shift


def _late_near_courier_day(prep_s: float = 60.0) -> Day:
    restaurant, customer = point(0.0, 0.0), point(0.5, 0.5)
    far = shift("far", point(2.5, 0.0))
    near = shift("near", point(0.1, 0.0))
    near = Shift(near.courier, T0 + 120.0, near.end)  # logs in two minutes later
    return day([order("o1", T0, prep_s, restaurant, customer)], [far, near])


@pytest.mark.parametrize(
    ("reassign_max", "min_saving", "courier", "moves"),
    [
        (1, 60.0, "near", 1),  # the near courier arrives and saves minutes: the order moves
        (0, 60.0, "far", 0),  # reassignment off
        (1, 3600.0, "far", 0),  # a saving below the threshold: no move (hysteresis)
    ],
)
def test_an_order_moves_to_a_courier_who_saves_more_than_the_threshold(
    reassign_max: int, min_saving: float, courier: str, moves: int
) -> None:
    the_day = _late_near_courier_day()
    config = CityConfig(reassign_max=reassign_max, reassign_min_saving=min_saving)
    scenario = Scenario(policy="routes", city=config)
    result = simulate(the_day, policy_for(scenario), tick_s=30.0)
    [record] = result.records
    assert record.courier == courier
    assert record.moves == moves
    assert kpis(result, 1800.0).reassignments == result.reassignments == moves
    assert record.delivered_at is not None


def test_a_reassigned_order_is_moved_at_most_reassign_max_times() -> None:
    the_day = _late_near_courier_day()
    config = CityConfig(reassign_max=1, reassign_min_saving=1.0)
    extra = shift("nearer", point(0.0, 0.05))
    extra = Shift(extra.courier, T0 + 240.0, extra.end)
    the_day = dataclasses.replace(the_day, shifts=(*the_day.shifts, extra))
    result = simulate(the_day, policy_for(Scenario(policy="routes", city=config)))
    assert result.records[0].moves <= 1
