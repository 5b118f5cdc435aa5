"""The pruned decision is exact: the dense solve (itself checked against brute force in
test_solver.py) is the reference, on instances where pruning drops couriers."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jarvis.models import (
    CityConfig,
    Courier,
    DequeueRule,
    HeldOrder,
    Order,
    Point,
    Rules,
    Vehicle,
)
from jarvis.models.assign import prepare, solve_prepared
from jarvis.models.city_problem import CityProblem
from jarvis.models.pruned import PrunedResult, prunable, solve_pruned
from jarvis.models.solver import decide
from tests.models.strategies import NOW, city_configs, city_rules, couriers, orders

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_exact(problem: CityProblem, result: PrunedResult | None) -> None:
    """Same objective, reasons and legality as the dense solve of the whole block."""
    assert result is not None, "the pruned decision was not certified"
    block = problem.block(None, None)
    prepared = prepare(block.reduced, problem.slots)
    rows, cols = solve_prepared(prepared)
    best = float(block.reduced[rows, cols].sum())
    assert math.isclose(float(result.reduced.sum()), best, rel_tol=1e-9, abs_tol=1e-6)
    assert np.allclose(block.reduced[result.tasks, result.workers], result.reduced)
    assert (result.reduced < 0.0).all(), "a pair not worth assigning was assigned"
    assert len(set(result.tasks.tolist())) == len(result.tasks), "an order assigned twice"
    load = np.bincount(result.workers, minlength=len(problem.worker_ids))
    assert (load <= problem.slots).all(), "capacity exceeded"
    assert (result.eligible_any == block.eligible_any).all()
    assert (result.useful_any == prepared.useful_any).all()


@st.composite
def held_and_declines(
    draw: st.DrawFn, order_list: list[Order], courier_list: list[Courier]
) -> tuple[dict[str, list[HeldOrder]], list[tuple[str, str, float]]]:
    held: dict[str, list[HeldOrder]] = {}
    for c in courier_list:
        if draw(st.booleans()):
            carried = draw(orders(max_size=2))
            held[c.id] = [
                HeldOrder(o.model_copy(update={"id": f"h{c.id}{o.id}"}), draw(st.booleans()))
                for o in carried
            ]
    declines = [
        (o.id, c.id, NOW - 10.0)
        for o in order_list
        for c in courier_list
        if draw(st.integers(0, 9)) == 0
    ]
    return held, declines


@SETTINGS
@given(
    st.data(),
    orders(max_size=8),
    couriers(max_size=24),
    city_configs,
    city_rules(),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 2),
    st.integers(1, 3),
)
def test_pruned_decision_equals_the_dense_optimum(
    data: st.DataObject,
    order_list: list[Order],
    courier_list: list[Courier],
    config: CityConfig,
    rules: Rules,
    per_fastest: int,
    per_slower: int,
    per_slowest: int,
    costed_below_free: int,
) -> None:
    held, declines = data.draw(held_and_declines(order_list, courier_list))
    problem = CityProblem(order_list, courier_list, NOW, config, rules, None, held, declines)
    if not problem.task_ids:
        return
    result = solve_pruned(
        problem,
        per_fastest,
        give_up=math.inf,
        per_slower=per_slower,
        per_slowest=per_slowest,
        costed_below_free=costed_below_free,
    )
    _check_exact(problem, result)


def _at(east_km: float, north_km: float) -> Point:
    lat = 48.85 + north_km / 111.2
    return Point(lat=lat, lon=2.35 + east_km / (111.2 * math.cos(math.radians(48.85))))


def test_pruned_decision_finds_the_courier_beyond_each_orders_nearest() -> None:
    """Both orders' nearest courier is c1; B has no other courier within 2 km, so the
    optimum gives A its second nearest, c2, which neither order has among its nearest."""
    rules = Rules(dequeue=[DequeueRule(name="near", max_pickup_km=2.0)])
    a = Order(id="a", pickup=_at(0.1, 0), dropoff=_at(0.5, 0), created_at=NOW, ready_at=NOW)
    b = Order(id="b", pickup=_at(-0.2, 0), dropoff=_at(-0.5, 0), created_at=NOW, ready_at=NOW)
    c1 = Courier(id="c1", position=_at(0, 0), vehicle=Vehicle.BIKE)
    c2 = Courier(id="c2", position=_at(1.5, 0), vehicle=Vehicle.BIKE)
    problem = CityProblem([a, b], [c1, c2], NOW, CityConfig(), rules)
    # each order's single nearest courier is c1: a solve on those pairs alone leaves one
    nearest = problem.block(None, None).reduced.argmin(axis=1)
    assert nearest.tolist() == [0, 0]
    result = solve_pruned(problem, per_fastest=1, give_up=math.inf, per_slower=1)
    _check_exact(problem, result)
    assert result is not None
    pairs = sorted(zip(result.tasks.tolist(), result.workers.tolist(), strict=True))
    assert pairs == [(0, 1), (1, 0)]


def _city(n_orders: int, n_couriers: int, seed: int) -> tuple[list[Order], list[Courier]]:
    rng = np.random.default_rng(seed)
    vehicles = [Vehicle.BIKE, Vehicle.SCOOTER, Vehicle.CAR]
    order_list = [
        Order(
            id=f"o{i}",
            pickup=_at(*rng.uniform(-6, 6, 2)),
            dropoff=_at(*rng.uniform(-6, 6, 2)),
            created_at=NOW - float(rng.uniform(0, 900)),
            ready_at=NOW + float(rng.uniform(-300, 600)),
        )
        for i in range(n_orders)
    ]
    courier_list = [
        Courier(
            id=f"c{i}",
            position=_at(*rng.uniform(-6, 6, 2)),
            vehicle=vehicles[i % 3],
            capacity=int(rng.integers(1, 3)),
        )
        for i in range(n_couriers)
    ]
    return order_list, courier_list


def test_a_city_with_many_more_couriers_is_decided_by_the_pruned_path_exactly() -> None:
    order_list, courier_list = _city(60, 400, seed=3)
    held = {
        c.id: [HeldOrder(order_list[i % 60].model_copy(update={"id": f"h{i}"}), i % 2 == 0)]
        for i, c in enumerate(courier_list[::3])
    }
    rules = Rules(
        dequeue=[DequeueRule(name="bikes", vehicles=frozenset({Vehicle.BIKE}), max_pickup_km=4.0)]
    )
    for given_held in (None, held):
        problem = CityProblem(order_list, courier_list, NOW, CityConfig(), rules, held=given_held)
        assert prunable(problem)
        _check_exact(problem, solve_pruned(problem))
        decision = decide(problem)
        block = problem.block(None, None)
        rows, cols = solve_prepared(prepare(block.reduced, problem.slots))
        dense = float(problem.leave.sum() + block.reduced[rows, cols].sum())
        assert math.isclose(decision.objective, dense, rel_tol=1e-9)


def test_orders_crowded_around_few_couriers_go_to_the_dense_path_with_the_same_optimum() -> None:
    """Every order in one spot: their nearest couriers are the same few, most orders stay
    in doubt, and the dense path decides (the pruned one would grow towards it)."""
    order_list, courier_list = _city(60, 400, seed=5)
    spot = order_list[0].pickup
    crowded = [o.model_copy(update={"pickup": spot}) for o in order_list]
    problem = CityProblem(crowded, courier_list, NOW, CityConfig(), Rules())
    assert prunable(problem)
    assert solve_pruned(problem) is None
    decision = decide(problem)
    block = problem.block(None, None)
    rows, cols = solve_prepared(prepare(block.reduced, problem.slots))
    dense = float(problem.leave.sum() + block.reduced[rows, cols].sum())
    assert math.isclose(decision.objective, dense, rel_tol=1e-9)
