"""Route-aware costs: the cheapest insertion into a courier's planned route."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jarvis.models import CityConfig, Courier, HeldOrder, Order, Point, decide_city
from jarvis.models.city_problem import SPARSE_FROM, CityProblem
from jarvis.models.estimate import VEHICLES, Legs, StraightLineEstimator
from jarvis.models.geo import local_xy_km
from jarvis.models.problem import FloatArray
from jarvis.models.routes import insertion_table, plan
from jarvis.models.rules import Rules
from tests.models.strategies import NOW, city_rules, couriers, orders

configs = st.builds(
    CityConfig,
    promise_s=st.floats(300, 3600),
    lateness_weight=st.floats(0, 3),
    priority_weight=st.floats(0, 0.1),
)


@st.composite
def held_orders(draw: st.DrawFn, max_size: int = 3) -> list[HeldOrder]:
    held = draw(orders(max_size=max_size))
    return [HeldOrder(o.model_copy(update={"id": "h" + o.id}), draw(st.booleans())) for o in held]


def _brute_force(
    problem: CityProblem, courier: Courier, held: list[HeldOrder], new: Order
) -> float:
    """Cost of the cheapest insertion of ``new``, by trying every place in plain Python."""
    return min(_every_insertion(problem, courier, held, new).values())


def _every_insertion(
    problem: CityProblem, courier: Courier, held: list[HeldOrder], new: Order
) -> dict[tuple[int, int], float]:
    """Cost of inserting ``new`` with its pickup before stop i, drop-off before stop j."""
    config = problem.config
    s_per_km = float(StraightLineEstimator().s_per_km[VEHICLES.index(courier.vehicle)])
    ref_lat, ref_lon = problem.ref

    def xy(p: Point) -> tuple[float, float]:
        out = local_xy_km(np.array([p.lat]), np.array([p.lon]), ref_lat, ref_lon)[0]
        return float(out[0]), float(out[1])

    def cost(stops: list[tuple[Order, bool]]) -> float:
        here, t, total = xy(courier.position), 0.0, 0.0
        for order, is_pickup in stops:
            there = xy(order.pickup if is_pickup else order.dropoff)
            t += math.hypot(there[0] - here[0], there[1] - here[1]) * s_per_km
            here = there
            if is_pickup:
                t = max(t, order.ready_at - NOW)
            else:
                weight = 1.0 + config.priority_weight * order.priority
                slack = order.created_at + config.promise_s - NOW
                total += weight * (t + config.lateness_weight * max(0.0, t - slack))
        return total

    route = list(plan(held))
    before = cost(route)
    found = {}
    for i in range(len(route) + 1):
        with_pickup = [*route[:i], (new, True), *route[i:]]
        for j in range(i, len(route) + 1):
            at = j + 1  # original stop j sits at j + 1 once the pickup is in
            found[i, j] = cost([*with_pickup[:at], (new, False), *with_pickup[at:]]) - before
    return found


@settings(max_examples=150, deadline=None)
@given(orders(), couriers(max_size=3), st.lists(held_orders(), min_size=3, max_size=3), configs)
def test_route_costs_are_the_cheapest_insertion_found_by_brute_force(
    order_list: list[Order],
    courier_list: list[Courier],
    held_lists: list[list[HeldOrder]],
    config: CityConfig,
) -> None:
    online = [c.model_copy(update={"online": True}) for c in courier_list]
    held = {c.id: h for c, h in zip(online, held_lists, strict=False)}
    problem = CityProblem(order_list, online, NOW, config, held=held)
    block = problem.block(None, None)
    rows = np.arange(len(order_list))
    for w, courier in enumerate(online):
        if not held[courier.id]:
            continue
        costs = problem.insertion_costs(w, rows)
        new = problem.new_orders(rows)
        lateness = config.lateness_weight
        table, pi, pj = insertion_table(problem.routes[w], new, lateness, problem.estimator, NOW)
        for t, order in enumerate(order_list):
            every = _every_insertion(problem, courier, held[courier.id], order)
            assert len(every) == len(pi)
            for place, (i, j) in enumerate(zip(pi.tolist(), pj.tolist(), strict=True)):
                assert math.isclose(table[t, place], every[i, j], rel_tol=1e-7, abs_tol=1e-6)
            expected = min(every.values())
            what = (courier.id, order.id)
            assert math.isclose(costs[t], expected, rel_tol=1e-7, abs_tol=1e-6), what
            reduced = min(expected - float(problem.leave[t]), 0.0)
            assert math.isclose(block.reduced[t, w], reduced, rel_tol=1e-7, abs_tol=1e-6), what


@settings(max_examples=50, deadline=None)
@given(orders(), couriers(max_size=3), configs)
def test_an_empty_route_costs_what_a_free_courier_costs(
    order_list: list[Order], courier_list: list[Courier], config: CityConfig
) -> None:
    online = [c.model_copy(update={"online": True}) for c in courier_list]
    free = CityProblem(order_list, online, NOW, config).block(None, None).reduced
    empty: dict[str, list[HeldOrder]] = {c.id: [] for c in online}
    with_empty = CityProblem(order_list, online, NOW, config, held=empty)
    assert not with_empty.routes
    assert np.array_equal(with_empty.block(None, None).reduced, free)
    for w, courier in enumerate(online):
        expected = [_brute_force(with_empty, courier, [], o) for o in order_list]
        reduced = [min(e - float(v), 0.0) for e, v in zip(expected, with_empty.leave, strict=True)]
        assert np.allclose(free[:, w], reduced, rtol=1e-7, atol=1e-6)


@given(held_orders(max_size=5))
def test_a_plan_picks_up_before_it_delivers_and_drops_nothing_it_holds(
    held: list[HeldOrder],
) -> None:
    stops = plan(held)
    carried = [h.order.id for h in held if h.picked_up]
    assert [o.id for o, up in stops[: len(carried)]] == carried
    assert not any(up for _, up in stops[: len(carried)])
    for h in held:
        drops = [k for k, (o, up) in enumerate(stops) if o.id == h.order.id and not up]
        picks = [k for k, (o, up) in enumerate(stops) if o.id == h.order.id and up]
        assert len(drops) == 1
        assert picks == ([] if h.picked_up else [drops[0] - 1])


def _order(oid: str, pickup: Point, dropoff: Point) -> Order:
    return Order(id=oid, pickup=pickup, dropoff=dropoff, created_at=NOW, ready_at=NOW)


def test_a_courier_carrying_an_order_is_not_costed_as_free() -> None:
    here = Point(lat=48.85, lon=2.35)
    east = Point(lat=48.85, lon=2.40)
    west = Point(lat=48.85, lon=2.30)
    near_west = Point(lat=48.85, lon=2.345)
    carried = _order("carried", here, east)
    new = _order("new", here, west)
    busy = Courier(id="busy", position=here, capacity=1)
    free = Courier(id="free", position=near_west, capacity=1)
    # without routes the busy courier, standing on the pickup, looks best
    assert decide_city([new], [busy, free], NOW).assignments[0].worker == "busy"
    held = {"busy": [HeldOrder(carried, picked_up=True)]}
    decision = decide_city([new], [busy, free], NOW, held=held)
    assert [(a.task, a.worker) for a in decision.assignments] == [("new", "free")]


def test_a_pickup_on_the_way_goes_to_the_courier_already_riding_there() -> None:
    here = Point(lat=48.85, lon=2.35)
    on_the_way = Point(lat=48.85, lon=2.36)
    east = Point(lat=48.85, lon=2.40)
    carried = _order("carried", here, east)
    new = _order("new", on_the_way, east)
    busy = Courier(id="busy", position=here, capacity=1)
    free = Courier(id="free", position=Point(lat=48.86, lon=2.36), capacity=1)
    held = {"busy": [HeldOrder(carried, picked_up=True)]}
    problem = CityProblem([new], [busy, free], NOW, CityConfig(), held=held)
    reduced = problem.block(None, None).reduced
    assert reduced[0, 0] < reduced[0, 1] < 0.0
    decision = decide_city([new], [busy, free], NOW, held=held)
    assert [(a.task, a.worker) for a in decision.assignments] == [("new", "busy")]


def test_a_delay_is_absorbed_where_the_courier_would_wait_anyway() -> None:
    here = Point(lat=48.85, lon=2.35)
    slow_kitchen = Order(
        id="slow",
        pickup=Point(lat=48.85, lon=2.36),
        dropoff=Point(lat=48.85, lon=2.37),
        created_at=NOW,
        ready_at=NOW + 900,
    )
    new = _order("new", Point(lat=48.851, lon=2.35), Point(lat=48.852, lon=2.35))
    courier = Courier(id="c", position=here)
    held = [HeldOrder(slow_kitchen)]
    problem = CityProblem([new], [courier], NOW, CityConfig(), held={"c": held})
    route = problem.routes[0]
    assert route.arrive[0] < route.depart[1]  # the courier waits at the slow kitchen
    cost = problem.insertion_costs(0, np.arange(1))[0]
    # the new order is delivered first, and the slow order is not a second later
    every = _every_insertion(problem, courier, held, new)
    assert math.isclose(cost, every[0, 0], rel_tol=1e-9)
    assert math.isclose(cost, _brute_force(problem, courier, held, new), rel_tol=1e-9)
    free = CityProblem([new], [courier], NOW, CityConfig())
    alone = free.block(None, None).reduced[0, 0] + free.leave[0]
    assert math.isclose(cost, alone, rel_tol=1e-9)


class _Wrapped:
    """The straight-line estimator behind another type: CityProblem then costs every
    eligible pair by route instead of pruning by the free-courier cost."""

    def __init__(self) -> None:
        self.inner = StraightLineEstimator()

    def travel_s(self, legs: Legs) -> FloatArray:
        return self.inner.travel_s(legs)


@settings(max_examples=60, deadline=None)
@given(orders(), couriers(max_size=6), st.lists(held_orders(), min_size=6, max_size=6), configs)
def test_pruning_by_the_free_courier_cost_changes_no_route_cost(
    order_list: list[Order],
    courier_list: list[Courier],
    held_lists: list[list[HeldOrder]],
    config: CityConfig,
) -> None:
    online = [c.model_copy(update={"online": True}) for c in courier_list]
    held = {c.id: h for c, h in zip(online, held_lists, strict=False)}
    pruned = CityProblem(order_list, online, NOW, config, held=held).block(None, None)
    every = CityProblem(order_list, online, NOW, config, estimator=_Wrapped(), held=held)
    full = every.block(None, None)
    assert np.allclose(pruned.reduced, full.reduced, rtol=1e-9, atol=1e-6)
    assert np.array_equal(pruned.eligible_any, full.eligible_any)


@settings(max_examples=60, deadline=None)
@given(
    orders(max_size=6),
    couriers(max_size=12),
    st.lists(held_orders(), min_size=12, max_size=12),
    configs,
    city_rules(),
    st.integers(1, 3),
)
def test_candidates_per_order_keeps_exact_costs_for_each_orders_nearest_couriers(
    order_list: list[Order],
    courier_list: list[Courier],
    held_lists: list[list[HeldOrder]],
    config: CityConfig,
    rules: Rules,
    keep: int,
) -> None:
    online = [c.model_copy(update={"online": True}) for c in courier_list]
    held = {c.id: h for c, h in zip(online, held_lists, strict=False)}
    declines = [(o.id, c.id, NOW) for o, c in zip(order_list, online, strict=False)]
    full = CityProblem(order_list, online, NOW, config, rules, held=held, declines=declines)
    pruned_config = replace(config, candidates_per_order=keep)
    pruned = CityProblem(
        order_list, online, NOW, pruned_config, rules, held=held, declines=declines
    )
    exact, kept = full.block(None, None).reduced, pruned.block(None, None).reduced
    assert kept.shape == exact.shape
    assert ((kept < 0).sum(axis=1) <= keep).all()
    nonzero = kept != 0
    assert np.allclose(kept[nonzero], exact[nonzero], rtol=1e-9, atol=1e-6)
    if len(online) < SPARSE_FROM * keep:
        return  # few couriers: the dense pass keeps each order's cheapest instead
    # the kept couriers of an order are among its nearest (by straight-line distance)
    for t in range(len(order_list)):
        cols = np.flatnonzero(nonzero[t])
        if len(cols):
            distance = np.hypot(*(full.worker_xy - full.task_xy[t]).T)
            assert distance[cols].max() <= np.sort(distance)[keep - 1] + 1e-9
