"""Route-aware costs against today's independent slots: decision time and delivery times.

- ``decision``: one ``decide_city`` at 500 orders x 2,000 couriers and 2,000 x 1,000
  (bench_solver's instances), with half the couriers holding one or two orders, costed
  by route (``held``) and as today (every courier as if free), in turns, 3 repeats;
  ``ratio`` of the median wall-clock times, ``cpu_ratio`` of the median CPU times
  (``time.process_time``), which a busy shared machine moves less.
- ``city``: a small seeded city run tick by tick (every 30 s) for two hours of orders
  plus the time to deliver them: 40 bike couriers of capacity 2 in a 6 km square, 110
  orders an hour (more than this fleet delivers within the 30-minute promise: an
  overloaded peak), 5 to 15 minutes of preparation. Couriers ride
  their planned route (:func:`jarvis.models.routes.plan`; in the route-aware policies the
  stop order the decision planned, ``Decision.routes``) at the estimator's speed under
  every policy; only the decision differs: ``slots`` (today), ``routes``, ``routes`` with
  bundling. Reports mean click-to-door time and the share delivered after 30 minutes.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.bench_solver import NOW, RULES, city
from jarvis.models import CityConfig, Courier, HeldOrder, Order, Point, decide_city
from jarvis.models.estimate import StraightLineEstimator
from jarvis.models.geo import distance_km
from jarvis.models.routes import plan
from jarvis.models.stops import placed

S_PER_KM = float(StraightLineEstimator().s_per_km[1])  # bike
TICK_S = 30.0
PROMISE_S = 1800.0
#: ``CityConfig.candidates_per_order`` of the pruned route-aware decision.
CANDIDATES = 32


def _time_decisions(n_orders: int, n_couriers: int, repeats: int) -> dict[str, Any]:
    orders, couriers = city(n_orders, n_couriers, seed=7)
    extra, _ = city(n_couriers, 1, seed=8)
    rng = np.random.default_rng(9)
    held: dict[str, list[HeldOrder]] = {}
    couriers = [c.model_copy(update={"capacity": 3}) for c in couriers]
    for c, o in zip(couriers[::2], extra, strict=False):
        held[c.id] = [HeldOrder(o.model_copy(update={"id": "h" + o.id}), bool(rng.integers(2)))]
    exact = CityConfig(large_min_side=0)
    pruned = CityConfig(large_min_side=0, candidates_per_order=CANDIDATES)
    runs = (("slots", None, exact), ("routes", held, exact), ("routes_pruned", held, pruned))
    times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    objective: dict[str, float] = {}
    for _ in range(repeats):
        for name, given, config in runs:
            started, started_cpu = time.perf_counter(), time.process_time()
            decision = decide_city(orders, couriers, NOW, config, RULES, held=given)
            cpu[name].append(time.process_time() - started_cpu)
            times[name].append(time.perf_counter() - started)
            objective[name] = decision.objective
    slots, routes = statistics.median(times["slots"]), statistics.median(times["routes"])
    cpu_ratio = statistics.median(cpu["routes"]) / statistics.median(cpu["slots"])
    routes_pruned = statistics.median(times["routes_pruned"])
    lost = 100.0 * (objective["routes_pruned"] - objective["routes"]) / objective["routes"]
    return {"bench": "routes.decision", "orders": n_orders, "couriers": n_couriers,
            "busy_couriers": len(held), "slots_s": slots, "routes_s": routes,
            "ratio": routes / slots, "cpu_ratio": cpu_ratio, "routes_pruned_s": routes_pruned,
            "ratio_pruned": routes_pruned / slots, "candidates_per_order": CANDIDATES,
            "pruned_objective_increase_pct": lost}  # fmt: skip


@dataclass
class _Rider:
    courier: Courier
    clock: float  # when the rider is at ``courier.position`` (or leaves it, waiting)
    held: list[HeldOrder] = field(default_factory=list)


def _km(a: Point, b: Point) -> float:
    return float(distance_km(np.array(a.lat), np.array(a.lon), np.array(b.lat), np.array(b.lon)))


def _advance(rider: _Rider, now: float, delivered: list[tuple[Order, float]]) -> None:
    """Ride the planned route up to ``now``; then stand where the rider is at ``now``."""
    while rider.held:
        order, is_pickup = plan(rider.held)[0]
        target = order.pickup if is_pickup else order.dropoff
        arrive = rider.clock + _km(rider.courier.position, target) * S_PER_KM
        if arrive > now:
            if rider.clock < now:  # part of the way: stand on the segment at ``now``
                p, f = rider.courier.position, (now - rider.clock) / (arrive - rider.clock)
                here = Point(
                    lat=p.lat + f * (target.lat - p.lat), lon=p.lon + f * (target.lon - p.lon)
                )
                rider.courier = rider.courier.model_copy(update={"position": here})
                rider.clock = now
            return
        rider.courier = rider.courier.model_copy(update={"position": target})
        rider.clock = arrive
        if is_pickup:
            rider.clock = max(arrive, order.ready_at)
            rider.held = [
                HeldOrder(h.order, h.picked_up or h.order is order, h.place) for h in rider.held
            ]
        else:
            delivered.append((order, arrive))
            rider.held = [h for h in rider.held if h.order is not order]
    rider.clock = max(rider.clock, now)


def _simulate(policy: str, seed: int, hours: float = 2.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    span = 3.0 / 111.2  # a 6 km square
    start = 1_700_000_000.0

    def point() -> Point:
        return Point(
            lat=48.85 + float(rng.uniform(-span, span)),
            lon=2.35 + float(rng.uniform(-span, span) * 1.5),
        )

    riders = [_Rider(Courier(id=f"c{i}", position=point(), capacity=2), start) for i in range(40)]
    n_orders = int(110 * hours)
    created = np.sort(rng.uniform(0, hours * 3600, n_orders)) + start
    arrivals = [
        Order(id=f"o{i}", pickup=point(), dropoff=point(), created_at=float(t),
              ready_at=float(t + rng.uniform(300, 900)))
        for i, t in enumerate(created)
    ]  # fmt: skip
    config = CityConfig(promise_s=PROMISE_S, bundle_pickup_km=0.5 if policy == "bundling" else 0.0)
    pool: list[Order] = []
    delivered: list[tuple[Order, float]] = []
    now, nxt = start, 0
    while len(delivered) < n_orders and now < start + (hours + 3) * 3600:
        now += TICK_S
        while nxt < n_orders and arrivals[nxt].created_at <= now:
            pool.append(arrivals[nxt])
            nxt += 1
        for rider in riders:
            _advance(rider, now, delivered)
        free = [
            r.courier.model_copy(update={"capacity": 2 - len(r.held)})
            for r in riders
            if len(r.held) < 2
        ]
        held = {r.courier.id: r.held for r in riders if r.held} if policy != "slots" else None
        decision = decide_city(pool, free, now, config, held=held)
        by_id = {o.id: o for o in pool}
        index = {r.courier.id: r for r in riders}
        for a in decision.assignments:
            index[a.worker].held.append(HeldOrder(by_id.pop(a.task)))
        for courier_id, stops in decision.routes.items():  # ride the route as priced
            index[courier_id].held = list(placed(index[courier_id].held, stops))
        pool = list(by_id.values())
    times = [at - o.created_at for o, at in delivered]
    late = sum(1 for o, at in delivered if at - o.created_at > PROMISE_S)
    return {"bench": "routes.city", "policy": policy, "orders": n_orders,
            "delivered": len(delivered), "mean_click_to_door_s": statistics.fmean(times),
            "late_share": late / max(1, len(delivered))}  # fmt: skip


def run(quick: bool = False) -> list[dict[str, Any]]:
    rows = []
    sizes = ((200, 400), (400, 200)) if quick else ((500, 2000), (2000, 1000))
    for n_orders, n_couriers in sizes:
        rows.append(_time_decisions(n_orders, n_couriers, 3))
    for policy in ("slots", "routes", "bundling"):
        rows.append(_simulate(policy, seed=1, hours=0.5 if quick else 2.0))
    return rows
