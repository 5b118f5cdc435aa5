"""Hypothesis strategies and reference implementations shared by the solver tests."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from hypothesis import strategies as st

from jarvis.models import (
    Associate,
    CityConfig,
    Courier,
    DequeueRule,
    Order,
    Point,
    Rules,
    StoreConfig,
    StraightLineEstimator,
    Vehicle,
    WorkItem,
)
from jarvis.models.city_problem import CityProblem

NOW = 1_000_000.0
LAT, LON = 48.85, 2.35

points = st.builds(
    Point,
    lat=st.floats(LAT - 0.05, LAT + 0.05),
    lon=st.floats(LON - 0.07, LON + 0.07),
)


@st.composite
def orders(draw: st.DrawFn, max_size: int = 5) -> list[Order]:
    n = draw(st.integers(0, max_size))
    return [
        Order(
            id=f"o{i}",
            pickup=draw(points),
            dropoff=draw(points),
            created_at=NOW - draw(st.floats(0, 2400)),
            ready_at=NOW + draw(st.floats(-600, 900)),
            priority=draw(st.integers(0, 3)) * 10,
        )
        for i in range(n)
    ]


@st.composite
def couriers(draw: st.DrawFn, max_size: int = 4) -> list[Courier]:
    n = draw(st.integers(0, max_size))
    return [
        Courier(
            id=f"c{i}",
            position=draw(points),
            capacity=draw(st.integers(1, 3)),
            vehicle=draw(st.sampled_from(list(Vehicle))),
            online=draw(st.booleans() | st.just(True)),
        )
        for i in range(n)
    ]


@st.composite
def city_rules(draw: st.DrawFn) -> Rules:
    rules = []
    if draw(st.booleans()):
        rules.append(DequeueRule(name="radius", max_pickup_km=draw(st.floats(1.0, 8.0))))
    if draw(st.booleans()):
        rules.append(
            DequeueRule(
                name="walkers",
                vehicles=frozenset({Vehicle.WALK, Vehicle.BIKE}),
                max_pickup_s=draw(st.floats(300, 1800)),
                max_tasks=1,
            )
        )
    if draw(st.booleans()):
        rules.append(DequeueRule(name="cars", vehicles=frozenset({Vehicle.CAR}), min_priority=10))
    return Rules(dequeue=rules)


city_configs = st.builds(
    CityConfig,
    max_delivery_s=st.floats(900, 3600),
    lateness_weight=st.sampled_from([0.0, 1.0, 3.0]),
    priority_weight=st.sampled_from([0.0, 0.05]),
)


def city_reference(
    problem: CityProblem,
    order_list: Sequence[Order],
    courier_list: Sequence[Courier],
    config: CityConfig,
    rules: Rules,
) -> tuple[list[list[float | None]], list[float], list[int]]:
    """Pair costs (None: ineligible), leave costs and slots, one pair at a time."""
    s_per_km = StraightLineEstimator().s_per_km
    vehicles = list(Vehicle)
    online = [c for c in courier_list if c.online]
    costs: list[list[float | None]] = []
    leave = []
    for t, o in enumerate(order_list):
        weight = 1.0 + config.priority_weight * o.priority
        due = o.created_at + config.promise_s
        # A delivery within max_delivery_s, widened by the time the order has waited.
        longest = config.max_delivery_s + max(0.0, NOW - o.created_at)
        leave.append(weight * (longest + config.lateness_weight * max(0.0, NOW + longest - due)))
        tx, ty = problem.task_xy[t]
        row: list[float | None] = []
        for w, c in enumerate(online):
            wx, wy = problem.worker_xy[w]
            km = math.hypot(tx - wx, ty - wy)
            rate = float(s_per_km[vehicles.index(c.vehicle)])
            pickup_s = km * rate
            if rules.refuses_order(c, o, km, pickup_s) is not None:
                row.append(None)
                continue
            delivered = max(NOW + pickup_s, o.ready_at) + float(problem.trip_km[t]) * rate
            x = delivered - NOW
            row.append(weight * (x + config.lateness_weight * max(0.0, delivered - due)))
        costs.append(row)
    slots = [min(c.capacity, rules.limits(c).max_tasks) for c in online]
    return costs, leave, slots


def brute_force(costs: list[list[float | None]], leave: list[float], slots: list[int]) -> float:
    """The least ``sum(assigned costs) + sum(leave of unassigned)`` over all matchings."""
    n_workers = len(slots)
    best = math.inf
    for choice in itertools.product(range(-1, n_workers), repeat=len(leave)):
        load = [0] * n_workers
        total = 0.0
        for t, w in enumerate(choice):
            if w < 0:
                total += leave[t]
                continue
            cost = costs[t][w]
            if cost is None:
                break
            load[w] += 1
            total += cost
        else:
            if all(load[w] <= slots[w] for w in range(n_workers)):
                best = min(best, total)
    return best


@st.composite
def store_instances(draw: st.DrawFn) -> tuple[list[WorkItem], list[Associate]]:
    roles = ["picker", "stocker"]
    n_items = draw(st.integers(0, 5))
    items = [
        WorkItem(
            id=f"w{i}",
            store=draw(st.sampled_from(["s1", "s2"])),
            role=draw(st.sampled_from(roles)),
            licence=draw(st.none() | st.just("forklift")),
            remotable=draw(st.booleans()),
            duration_s=draw(st.floats(60, 3600)),
            due_at=draw(st.none() | st.floats(NOW - 600, NOW + 3600)),
            priority=draw(st.integers(0, 100)),
        )
        for i in range(n_items)
    ]
    n_assoc = draw(st.integers(0, 4))
    associates = [
        Associate(
            id=f"a{i}",
            home_store=draw(st.sampled_from(["s1", "s2", "s3"])),
            stores=frozenset(draw(st.lists(st.sampled_from(["s1", "s2"]), max_size=2))),
            roles=frozenset(draw(st.lists(st.sampled_from(roles), min_size=1, max_size=2))),
            licences=frozenset(draw(st.lists(st.just("forklift"), max_size=1))),
            remote=draw(st.booleans()),
        )
        for i in range(n_assoc)
    ]
    return items, associates


store_configs = st.builds(
    StoreConfig,
    wait_cost_s=st.floats(300, 7200),
    remote_penalty_s=st.floats(0, 600),
    items_per_associate=st.integers(1, 2),
)
