"""The stop order a decision plans: the courier rides the route its orders were priced by."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarvis.errors import DispatchError
from jarvis.models import CityConfig, Courier, HeldOrder, Order, Point, decide_city, plan
from jarvis.models.city_problem import CityProblem
from jarvis.models.stops import parse_stops, placed, stops_of, stops_text
from tests.models.strategies import NOW, couriers, orders

HERE = Point(lat=48.85, lon=2.35)


def _order(oid: str, pickup: Point, dropoff: Point) -> Order:
    return Order(id=oid, pickup=pickup, dropoff=dropoff, created_at=NOW, ready_at=NOW)


def _route_cost(courier: Courier, held: list[HeldOrder], config: CityConfig) -> float:
    if not held:
        return 0.0
    problem = CityProblem([], [courier], NOW, config, held={courier.id: held})
    return problem.routes[0].cost(config.lateness_weight)


def test_a_new_pickup_before_an_existing_drop_off_is_stored_and_ridden() -> None:
    far_east = Point(lat=48.85, lon=2.42)
    carried = _order("carried", HERE, far_east)
    waiting = _order("waiting", Point(lat=48.85, lon=2.352), far_east)
    # on the way to both drop-offs: pick it up and drop it before them
    new = _order("new", Point(lat=48.85, lon=2.36), Point(lat=48.85, lon=2.37))
    busy = Courier(id="busy", position=HERE, capacity=1)
    held = [HeldOrder(carried, picked_up=True), HeldOrder(waiting)]
    assert stops_of(held) == (("carried", False), ("waiting", True), ("waiting", False))
    config = CityConfig()
    decision = decide_city([new], [busy], NOW, config, held={"busy": held})
    assert [(a.task, a.worker) for a in decision.assignments] == [("new", "busy")]
    stops = decision.routes["busy"]
    # the cheapest insertion puts the new pickup before the carried order's drop-off
    assert stops.index(("new", True)) < stops.index(("carried", False))
    assert stops[-1] == ("waiting", False) or stops[-1] == ("carried", False)
    after = placed([*held, HeldOrder(new)], stops)
    assert stops_of(after) == stops
    # the route it rides costs what the order was priced at, to the last second
    full = Courier(id="busy", position=HERE, capacity=3)
    added = _route_cost(full, list(after), config) - _route_cost(full, held, config)
    assert math.isclose(added, decision.assignments[0].cost, rel_tol=1e-9)
    # the old rule (new orders after everything held) would have cost more
    appended = _route_cost(full, [*held, HeldOrder(new)], config) - _route_cost(full, held, config)
    assert appended > added + 60.0


def test_the_stored_form_round_trips_and_rejects_a_bad_token() -> None:
    stops = (("o1", True), ("o2", True), ("o1", False), ("o2", False))
    assert stops_text(stops) == "+o1 +o2 -o1 -o2"
    assert parse_stops(stops_text(stops)) == stops
    with pytest.raises(DispatchError, match="not \\+<order id>"):
        parse_stops("+o1 o1")


def test_a_place_must_put_the_pickup_before_the_drop_off() -> None:
    order = _order("o", HERE, HERE)
    with pytest.raises(DispatchError, match="before its drop-off"):
        HeldOrder(order, place=(3, 2))
    # a stored order that disagrees with what is held falls back to the first rule
    kept = placed([HeldOrder(order)], [("o", False), ("o", True)])
    assert kept[0].place is None
    assert stops_of(kept) == (("o", True), ("o", False))


@st.composite
def placed_routes(draw: st.DrawFn) -> list[HeldOrder]:
    """Held orders with a random valid stop order (picked-up ones: drop-off only)."""
    held = [
        HeldOrder(o.model_copy(update={"id": "h" + o.id}), draw(st.booleans()))
        for o in draw(orders(max_size=3))
    ]
    stops: list[tuple[str, bool]] = []
    for h in draw(st.permutations(held)):
        drop_at = draw(st.integers(0, len(stops)))
        stops.insert(drop_at, (h.order.id, False))
        if not h.picked_up:
            stops.insert(draw(st.integers(0, drop_at)), (h.order.id, True))
    return list(placed(held, stops))


@settings(max_examples=120, deadline=None)
@given(
    orders(max_size=5),
    couriers(max_size=3),
    st.lists(placed_routes(), min_size=3, max_size=3),
    st.booleans(),
)
def test_planned_routes_keep_capacity_pickups_and_every_held_order(
    new: list[Order], fleet: list[Courier], routes: list[list[HeldOrder]], bundling: bool
) -> None:
    held = {c.id: r for c, r in zip(fleet, routes, strict=False) if r}
    # Courier.capacity is the free capacity; what it holds comes on top
    capacity = {c.id: c.capacity + len(held.get(c.id, ())) for c in fleet}
    config = CityConfig(bundle_pickup_km=3.0 if bundling else 0.0)
    decision = decide_city(new, fleet, NOW, config, held=held)
    by_id = {o.id: o for o in new}
    given_to: dict[str, list[Order]] = {}
    for a in decision.assignments:
        given_to.setdefault(a.worker, []).append(by_id[a.task])
    assert set(decision.routes) == set(given_to)
    for cid, stops in decision.routes.items():
        before = held.get(cid, [])
        after = placed([*before, *(HeldOrder(o) for o in given_to[cid])], stops)
        assert all(h.place is not None for h in after)
        assert plan(after) == tuple(
            (next(h.order for h in after if h.order.id == oid), up) for oid, up in stops
        )
        assert len(after) <= capacity[cid]
        onboard = {h.order.id for h in before if h.picked_up}
        dropped = set()
        for oid, up in stops:
            if up:
                assert oid not in onboard
                assert oid not in dropped
                onboard.add(oid)
            else:
                assert oid in onboard, f"{cid} drops {oid} before picking it up"
                onboard.remove(oid)
                dropped.add(oid)
            assert len(onboard) <= capacity[cid]
        assert dropped == {h.order.id for h in after}, f"{cid} drops a held order"
        # a stored order (the places) survives the next decision's plan unchanged
        assert stops_of(after) == stops
        # one new order, no bundle: the route it rides costs what it was priced at
        mine = [a for a in decision.assignments if a.worker == cid]
        if len(mine) == 1 and not bundling:
            # costed in the decision's own frame (same orders and couriers)
            w = [c.id for c in fleet if c.online].index(cid)
            costs = [
                CityProblem(new, fleet, NOW, config, held={cid: list(route)}).routes[w]
                if route
                else None
                for route in (after, before)
            ]
            added = sum(
                sign * r.cost(config.lateness_weight)
                for sign, r in zip((1, -1), costs, strict=True)
                if r is not None
            )
            assert math.isclose(added, mine[0].cost, rel_tol=1e-9, abs_tol=1e-6)
