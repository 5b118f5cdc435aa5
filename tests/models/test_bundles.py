"""Bundling: orders picked up close together and dropped along one route go together."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jarvis.models import CityConfig, Courier, HeldOrder, Order, Point, Rules, decide_city
from jarvis.models.bundles import BundleProblem, find_bundles
from jarvis.models.city_problem import CityProblem
from jarvis.models.estimate import VEHICLES, StraightLineEstimator
from jarvis.models.geo import distance_km
from tests.models.strategies import NOW, city_rules, couriers, orders

BUNDLING = CityConfig(bundle_pickup_km=0.5)
KITCHEN = Point(lat=48.85, lon=2.35)
NEXT_DOOR = Point(lat=48.8503, lon=2.3503)


def _km(a: Point, b: Point) -> float:
    return float(distance_km(np.array(a.lat), np.array(a.lon), np.array(b.lat), np.array(b.lon)))


def _order(oid: str, pickup: Point, dropoff: Point, ready_in: float = 0.0) -> Order:
    return Order(id=oid, pickup=pickup, dropoff=dropoff, created_at=NOW, ready_at=NOW + ready_in)


def test_a_pickup_on_the_way_is_bundled_with_the_farther_drop_off_last() -> None:
    far = _order("far", KITCHEN, Point(lat=48.85, lon=2.40))
    near = _order("near", NEXT_DOOR, Point(lat=48.85, lon=2.38))
    problem = CityProblem(
        [far, near], [Courier(id="c", position=KITCHEN, capacity=2)], NOW, BUNDLING
    )
    (bundle,) = find_bundles(problem)
    assert (bundle.drop_first, bundle.drop_second) == (1, 0)  # near first, then far

    riders = [
        Courier(id="c-near", position=KITCHEN, capacity=2),
        Courier(id="c-other", position=Point(lat=48.853, lon=2.35), capacity=1),
    ]
    decision = decide_city([far, near], riders, NOW, BUNDLING)
    assert decision.path == "bundled"
    assert {(a.task, a.worker) for a in decision.assignments} == {
        ("far", "c-near"),
        ("near", "c-near"),
    }
    # each order's cost is its own delivery along the bundle's route (bike, straight line)
    s_per_km = float(StraightLineEstimator().s_per_km[VEHICLES.index(riders[0].vehicle)])
    to_next_door = _km(KITCHEN, NEXT_DOOR) * s_per_km
    near_at = to_next_door + _km(NEXT_DOOR, near.dropoff) * s_per_km
    far_at = near_at + _km(near.dropoff, far.dropoff) * s_per_km
    costs = {a.task: a.cost for a in decision.assignments}
    assert math.isclose(costs["near"], near_at, rel_tol=1e-3)
    assert math.isclose(costs["far"], far_at, rel_tol=1e-3)


def test_drop_offs_in_opposite_directions_are_not_bundled() -> None:
    east = _order("east", KITCHEN, Point(lat=48.85, lon=2.40))
    west = _order("west", NEXT_DOOR, Point(lat=48.85, lon=2.30))
    problem = CityProblem([east, west], [], NOW, BUNDLING)
    assert find_bundles(problem) == ()


def test_pickups_too_far_apart_are_not_bundled() -> None:
    a = _order("a", KITCHEN, Point(lat=48.85, lon=2.40))
    b = _order("b", Point(lat=48.86, lon=2.35), Point(lat=48.86, lon=2.40))
    assert find_bundles(CityProblem([a, b], [], NOW, BUNDLING)) == ()


def test_a_bundle_no_courier_can_carry_goes_out_order_by_order() -> None:
    far = _order("far", KITCHEN, Point(lat=48.85, lon=2.40))
    near = _order("near", NEXT_DOOR, Point(lat=48.85, lon=2.38))
    riders = [
        Courier(id="c1", position=KITCHEN, capacity=1),
        Courier(id="c2", position=NEXT_DOOR, capacity=1),
    ]
    decision = decide_city([far, near], riders, NOW, BUNDLING)
    assert len(find_bundles(CityProblem([far, near], riders, NOW, BUNDLING))) == 1
    assert sorted(a.task for a in decision.assignments) == ["far", "near"]
    assert len({a.worker for a in decision.assignments}) == 2
    assert not decision.unassigned


@settings(max_examples=60, deadline=None)
@given(
    orders(max_size=8),
    couriers(max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    city_rules(),
    st.floats(0.2, 3.0),
)
def test_bundled_decisions_are_legal_and_add_up(
    order_list: list[Order],
    courier_list: list[Courier],
    busy: list[bool],
    rules: Rules,
    pickup_km: float,
) -> None:
    config = CityConfig(bundle_pickup_km=pickup_km, bundle_detour=2.0)
    held = {
        c.id: [HeldOrder(_order("h" + c.id, c.position, KITCHEN), picked_up=True)]
        for c, b in zip(courier_list, busy, strict=False)
        if b
    }
    decision = decide_city(order_list, courier_list, NOW, config, rules, held=held)
    problem = CityProblem(order_list, courier_list, NOW, config, rules, held=held)
    bundles = {
        frozenset((problem.task_ids[b.first], problem.task_ids[b.second]))
        for b in find_bundles(problem)
    }
    tasks = [a.task for a in decision.assignments]
    assert len(tasks) == len(set(tasks)), "an order assigned twice"
    assert set(tasks).isdisjoint(decision.unassigned)
    assert set(tasks) | set(decision.unassigned) == set(problem.task_ids)
    online = {c.id: c for c in courier_list if c.online}
    slots = dict(zip(problem.worker_ids, problem.slots.tolist(), strict=True))
    per_worker = Counter(a.worker for a in decision.assignments)
    for worker, count in per_worker.items():
        assert worker in online
        assert count <= min(2, slots[worker]), "capacity exceeded"
        if count == 2:
            pair = frozenset(a.task for a in decision.assignments if a.worker == worker)
            assert pair in bundles, "two orders that are not a bundle"
    index = {t: i for i, t in enumerate(problem.task_ids)}
    windex = {w: i for i, w in enumerate(problem.worker_ids)}
    for a in decision.assignments:
        assert not problem.ineligible(np.array([index[a.task]]), np.array([windex[a.worker]]))[
            0, 0
        ], "a forbidden pair"
    unassigned = [index[t] for t in decision.unassigned]
    expected = sum(a.cost for a in decision.assignments) + float(problem.leave[unassigned].sum())
    assert math.isclose(decision.objective, expected, rel_tol=1e-9, abs_tol=1e-6)
    # a bundle row's cost is the sum of its two deliveries
    bp = BundleProblem(problem, find_bundles(problem))
    if bp.bundles and len(problem.worker_ids):
        total, first, second = bp.bundle_costs(list(bp.bundles), np.arange(len(problem.worker_ids)))
        assert np.allclose(total, first + second)
        assert (first >= 0).all()
        assert (second >= 0).all()
