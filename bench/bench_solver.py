"""The dispatch core: the whole decision against the bare solve, and the large path.

``solver_decision_vs_bare`` times ``decide_city`` from the records (orders and couriers)
to the decision, against ``linear_sum_assignment`` alone on the dense matrix of the same
instance, prepared beforehand and outside the timing (rows and columns without a useful
pair dropped, as the dense path does). With at least twice as many courier slots as
orders the decision takes the pruned exact path (``path``, :mod:`jarvis.models.pruned`)
and never builds that matrix; ``objective_vs_dense_pct`` shows it reached the dense
optimum.

Instances: random points in a 20 km city, drop-offs within 3 km of their pickup, half
the couriers on bikes (pickups up to 10 km) and half on scooters or cars (up to 15 km),
about a third of the pairs ineligible. Every figure is a median over repeats of the
same run; ratios compare measurements taken side by side (the bare solve and the whole
decision in turns, one call of each per repeat). ``cpu_ratio`` compares the
medians of CPU time (``time.process_time``), which a busy shared machine moves less
than the wall clock. Where couriers outnumber
orders, ``solver_pruned_vs_bare`` also times the decision with ``candidates_per_order``
(each order keeps its 32 cheapest couriers) against the same bare solve of the
unpruned matrix, with how much worse its objective is.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from jarvis.models import (
    CityConfig,
    Courier,
    Decision,
    DequeueRule,
    Order,
    Point,
    Rules,
    Vehicle,
    decide_city,
)
from jarvis.models.assign import prepare
from jarvis.models.city_problem import CityProblem
from jarvis.models.pruned import prunable

NOW = 1_700_000_000.0
LAT, LON = 48.85, 2.35
HALF_DEG_LAT = 10.0 / 111.2  # 10 km
HALF_DEG_LON = 10.0 / (111.2 * np.cos(np.radians(LAT)))

CONFIG = CityConfig(large_min_side=0)
#: ``CityConfig.candidates_per_order`` of the pruned decision (``solver_pruned_vs_bare``).
CANDIDATES = 32
RULES = Rules(
    dequeue=[
        DequeueRule(name="bikes", vehicles=frozenset({Vehicle.BIKE}), max_pickup_km=10.0),
        DequeueRule(name="everyone", max_pickup_km=15.0),
    ]
)


def city(n_orders: int, n_couriers: int, seed: int) -> tuple[list[Order], list[Courier]]:
    """A random instance of the given size."""
    rng = np.random.default_rng(seed)

    def point(lat: float, lon: float) -> Point:
        return Point(
            lat=float(np.clip(lat, LAT - HALF_DEG_LAT, LAT + HALF_DEG_LAT)),
            lon=float(np.clip(lon, LON - HALF_DEG_LON, LON + HALF_DEG_LON)),
        )

    pick = rng.uniform(-1, 1, (n_orders, 2)) * (HALF_DEG_LAT, HALF_DEG_LON) + (LAT, LON)
    drop = pick + rng.uniform(-0.3, 0.3, (n_orders, 2)) * (HALF_DEG_LAT, HALF_DEG_LON)
    orders = [
        Order(
            id=f"o{i}",
            pickup=point(*pick[i]),
            dropoff=point(*drop[i]),
            created_at=NOW - float(rng.uniform(0, 900)),
            ready_at=NOW + float(rng.uniform(-300, 600)),
            priority=int(rng.integers(0, 3)) * 10,
        )
        for i in range(n_orders)
    ]
    where = rng.uniform(-1, 1, (n_couriers, 2)) * (HALF_DEG_LAT, HALF_DEG_LON) + (LAT, LON)
    vehicles = rng.choice(
        [Vehicle.BIKE, Vehicle.SCOOTER, Vehicle.CAR], n_couriers, p=[0.5, 0.25, 0.25]
    )
    couriers = [
        Courier(id=f"c{i}", position=point(*where[i]), vehicle=Vehicle(vehicles[i]))
        for i in range(n_couriers)
    ]
    return orders, couriers


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    return _medians(fn, repeats)[0]


def _medians(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds (``time.process_time``) of ``fn``."""
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return statistics.median(wall), statistics.median(cpu)


def _medians_side_by_side(
    first: Callable[[], object], second: Callable[[], object], repeats: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """:func:`_medians` of two functions timed in turns (first, second, first, ...), so
    that a change of the machine's load during the run moves both sides alike."""
    times: list[list[float]] = [[], [], [], []]
    for _ in range(repeats):
        for at, fn in ((0, first), (2, second)):
            started, started_cpu = time.perf_counter(), time.process_time()
            fn()
            times[at + 1].append(time.process_time() - started_cpu)
            times[at].append(time.perf_counter() - started)
    wall_1, cpu_1, wall_2, cpu_2 = map(statistics.median, times)
    return (wall_1, cpu_1), (wall_2, cpu_2)


def _repeats(n: int, m: int) -> int:
    """More repeats where a run is short: the medians of a shared machine move less."""
    if n * m <= 1_000_000:
        return 15
    if n * m <= 4_000_000:
        return 5 if n != m else 3
    return 1


def measure(n: int, m: int, with_large: bool, seed: int = 1) -> list[dict[str, Any]]:
    """The whole decision (exact path) against ``linear_sum_assignment`` on the matrix it
    prepared; with ``with_large``, also the large path against that exact decision."""
    orders, couriers = city(n, m, seed)
    problem = CityProblem(orders, couriers, NOW, CONFIG, RULES)
    block = problem.block(None, None)
    matrix = prepare(block.reduced, problem.slots).matrix
    ineligible = 1.0 - float((block.reduced < 0).mean())
    dense_objective = float(problem.leave.sum() + matrix[linear_sum_assignment(matrix)].sum())
    pruned_path = prunable(problem)
    del problem, block
    repeats = _repeats(n, m)
    exact: list[Decision] = []
    (bare, bare_cpu), (whole, whole_cpu) = _medians_side_by_side(
        lambda: linear_sum_assignment(matrix),
        lambda: exact.append(decide_city(orders, couriers, NOW, CONFIG, RULES, path="exact")),
        repeats,
    )
    rows: list[dict[str, Any]] = [
        {
            "benchmark": "solver_decision_vs_bare",
            "orders": n,
            "couriers": m,
            "useless_pairs_pct": 100.0 * ineligible,
            "matrix": f"{matrix.shape[0]}x{matrix.shape[1]}",
            "decision_ms": whole * 1000,
            "bare_solve_ms": bare * 1000,
            "ratio": whole / bare,
            "decision_cpu_ms": whole_cpu * 1000,
            "bare_solve_cpu_ms": bare_cpu * 1000,
            "cpu_ratio": whole_cpu / bare_cpu,
            "repeats": repeats,
            "path": "pruned" if pruned_path else "dense",
            "objective_vs_dense_pct": 100.0
            * (exact[0].objective - dense_objective)
            / abs(dense_objective),
        }
    ]
    if m > n:  # many more couriers than orders: keep each order's cheapest couriers
        pruned: list[Decision] = []
        config = CityConfig(large_min_side=0, candidates_per_order=CANDIDATES)
        pruned_s = _median_s(
            lambda: pruned.append(decide_city(orders, couriers, NOW, config, RULES, path="exact")),
            repeats,
        )
        e, p = exact[0], pruned[0]
        rows.append(
            {
                "benchmark": "solver_pruned_vs_bare",
                "orders": n,
                "couriers": m,
                "candidates_per_order": CANDIDATES,
                "decision_ms": pruned_s * 1000,
                "bare_solve_ms": bare * 1000,
                "ratio": pruned_s / bare,
                "objective_increase_pct": 100.0 * (p.objective - e.objective) / e.objective,
            }
        )
    if with_large:
        large: list[Decision] = []
        large_s = _median_s(
            lambda: large.append(decide_city(orders, couriers, NOW, CONFIG, RULES, path="large")),
            3,
        )
        e, g = exact[0], large[0]
        lost = len(e.assignments) - len(g.assignments)
        rows.append(
            {
                "benchmark": "solver_large_vs_exact",
                "orders": n,
                "couriers": m,
                "exact_ms": whole * 1000,
                "large_ms": large_s * 1000,
                "speedup": whole / large_s,
                "objective_increase_pct": 100.0 * (g.objective - e.objective) / e.objective,
                "matches_exact": len(e.assignments),
                "matches_lost_pct": 100.0 * lost / max(1, len(e.assignments)),
            }
        )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    if quick:
        square, rectangular, large_from = [100, 250, 500, 1000], [(500, 2000)], 500
    else:
        square = [100, 250, 500, 1000, 2000, 4000]
        rectangular = [(500, 2000), (1000, 4000), (2000, 500), (4000, 1000)]
        large_from = 500
    rows: list[dict[str, Any]] = []
    for n in square:
        rows += measure(n, n, with_large=n >= large_from)
    for n, m in rectangular:
        rows += measure(n, m, with_large=False)
    return rows
