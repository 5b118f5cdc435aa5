"""The large-partition path: never a forbidden pair or an exceeded capacity, close to
the exact objective, chosen automatically by size."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from jarvis.models import (
    CityConfig,
    Courier,
    DequeueRule,
    Order,
    Point,
    Rules,
    Vehicle,
    decide_city,
    uses_large_path,
)
from jarvis.models.city_problem import CityProblem
from tests.models.strategies import NOW

RULES = Rules(
    dequeue=[
        DequeueRule(name="bikes", vehicles=frozenset({Vehicle.BIKE}), max_pickup_km=4.0),
        DequeueRule(name="cars", vehicles=frozenset({Vehicle.CAR}), min_priority=10),
    ]
)
CONFIG = CityConfig(area_tasks=40, area_margin_km=1.0, large_min_side=200)


def _city(n_orders: int, n_couriers: int, seed: int) -> tuple[list[Order], list[Courier]]:
    rng = np.random.default_rng(seed)

    def point() -> Point:
        return Point(lat=48.85 + rng.uniform(-0.08, 0.08), lon=2.35 + rng.uniform(-0.12, 0.12))

    orders = [
        Order(
            id=f"o{i}",
            pickup=point(),
            dropoff=point(),
            created_at=NOW - rng.uniform(0, 900),
            ready_at=NOW + rng.uniform(-300, 300),
            priority=int(rng.integers(0, 2)) * 10,
        )
        for i in range(n_orders)
    ]
    couriers = [
        Courier(
            id=f"c{i}",
            position=point(),
            capacity=int(rng.integers(1, 3)),
            vehicle=rng.choice(list(Vehicle)),
            online=bool(rng.random() > 0.05),
        )
        for i in range(n_couriers)
    ]
    return orders, couriers


@pytest.mark.parametrize(("n_orders", "n_couriers", "seed"), [(300, 250, 1), (400, 300, 2)])
def test_large_path_keeps_rules_and_capacity_and_stays_close_to_exact(
    n_orders: int, n_couriers: int, seed: int
) -> None:
    orders, couriers = _city(n_orders, n_couriers, seed)
    large = decide_city(orders, couriers, NOW, CONFIG, RULES)
    exact = decide_city(orders, couriers, NOW, CONFIG, RULES, path="exact")
    assert large.path == "large"
    assert exact.path == "exact"

    problem = CityProblem(orders, couriers, NOW, CONFIG, RULES)
    t_index = {t: i for i, t in enumerate(problem.task_ids)}
    w_index = {w: i for i, w in enumerate(problem.worker_ids)}  # online couriers only
    for a in large.assignments:
        t, w = np.array([t_index[a.task]]), np.array([w_index[a.worker]])
        assert problem.block(t, w).reduced[0, 0] < 0, f"{a.task} -> {a.worker} not allowed"
    load = Counter(a.worker for a in large.assignments)
    capacity = {c.id: c.capacity for c in couriers}
    assert all(load[w] <= capacity[w] for w in load)
    assert set(large.unassigned) | {a.task for a in large.assignments} == set(problem.task_ids)

    assert large.objective >= exact.objective - 1e-6
    assert large.objective <= exact.objective * 1.03
    assert len(large.assignments) >= 0.97 * len(exact.assignments)


def test_large_path_is_deterministic() -> None:
    orders, couriers = _city(250, 250, 3)
    first = decide_city(orders, couriers, NOW, CONFIG, RULES, path="large")
    assert first == decide_city(orders, couriers, NOW, CONFIG, RULES, path="large")


def test_path_is_chosen_by_the_shorter_side() -> None:
    config = CityConfig(large_min_side=1500)
    assert uses_large_path(1500, 1600, config)
    assert not uses_large_path(1000, 4000, config)
    assert not uses_large_path(4000, 1000, config)
    assert not uses_large_path(5000, 5000, CityConfig(large_min_side=0))
