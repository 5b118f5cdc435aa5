"""Properties of every simulated day (hypothesis): no courier delivers an order before
picking it up, holds more than its capacity, or drops an order it holds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jarvis.models import CityConfig
from jarvis.sim import POLICIES, Scenario, SimResult, kpis, make_day, policy_for, simulate
from jarvis.sim.day import Day
from jarvis.sim.history import incoming
from jarvis.testing.checker import check_history
from tests.sim.days import T0, day, order, point, shift

coordinate = st.floats(min_value=-1.5, max_value=1.5, allow_nan=False)
spot = st.builds(point, coordinate, coordinate)


@st.composite
def small_days(draw: st.DrawFn) -> tuple[Day, int]:
    capacity = draw(st.integers(1, 3))
    n_orders = draw(st.integers(1, 8))
    orders = [
        order(
            f"o{i}",
            T0 + draw(st.floats(0.0, 1800.0)),
            draw(st.floats(0.0, 1200.0)),
            draw(spot),
            draw(spot),
        )
        for i in range(n_orders)
    ]
    orders.sort(key=lambda o: o.created_at)
    shifts = [shift(f"c{i}", draw(spot), capacity) for i in range(draw(st.integers(1, 3)))]
    return day(orders, shifts, hours=0.5), capacity


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    small_days(),
    st.sampled_from(POLICIES),
    st.floats(0.0, 0.5),
    st.integers(0, 50),
    st.integers(0, 2),
)
def test_no_route_delivers_before_pickup_exceeds_capacity_or_drops_an_order(
    case: tuple[Day, int], policy: str, decline_share: float, seed: int, reassign_max: int
) -> None:
    the_day, capacity = case
    city = CityConfig(reassign_max=reassign_max, reassign_min_saving=30.0)
    scenario = Scenario(policy=policy, bundle_pickup_km=1.0, city=city)
    result = simulate(
        the_day,
        policy_for(scenario),
        tick_s=20.0,
        decline_share=decline_share,
        seed=seed,
        drain_s=3600.0,
    )
    assert result.max_held <= capacity
    for record in result.records:
        o = record.order
        if record.assigned_at is None:  # a policy may leave an order open (cheaper to wait)
            assert record.picked_up_at is None
            assert record.delivered_at is None
            continue
        if record.delivered_at is None:  # the run's drain time ended first
            assert o.id in result.still_held, f"{o.id} was assigned, then dropped"
            continue
        assert record.picked_up_at is not None
        assert o.created_at <= record.assigned_at <= record.picked_up_at
        assert record.picked_up_at >= o.ready_at
        assert record.delivered_at >= record.picked_up_at
    figures = kpis(result, 1800.0)
    _check_history(the_day, result)
    assigned = sum(1 for r in result.records if r.assigned_at is not None)
    assert figures.delivered == assigned - len(result.still_held)
    assert 0.0 <= figures.idle_share <= 1.0


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(POLICIES))
def test_a_seeded_day_delivers_every_order_it_assigns_exactly_once(seed: int, policy: str) -> None:
    scenario = Scenario(
        seed=seed, start_s=12 * 3600, end_s=12.25 * 3600, couriers=5, orders_per_hour=40
    )
    the_day = make_day(scenario)
    result = simulate(the_day, policy_for(scenario.replace(policy=policy)), decline_share=0.2)
    _check_history(the_day, result)
    assert result.max_held <= scenario.capacity
    for record in result.records:
        if record.delivered_at is not None:
            assert record.courier is not None
            assert record.picked_up_at is not None
            assert record.order.ready_at <= record.picked_up_at <= record.delivered_at


def _check_history(the_day: Day, result: SimResult) -> None:
    """The history checker, as it judges a real city, finds nothing wrong."""
    report = check_history("sim", result.history, incoming(the_day))
    assert report.double_assignments == []
    assert report.bad_transitions == []
    assert report.over_capacity == []
    assert report.stale_commits == []
    never = {r.order.id for r in result.records if r.assigned_at is None}
    assert set(report.unresolved) <= never
    assert report.reassignments == result.reassignments


def test_the_checker_sees_a_double_assignment_or_overload_in_a_simulated_history() -> None:
    restaurant = point(0.0, 0.0)
    orders = [
        order("o1", T0, 600.0, restaurant, point(0.5, 0.5)),
        order("o2", T0, 600.0, restaurant, point(0.4, 0.5)),
    ]
    the_day = day(orders, [shift("c1", restaurant), shift("c2", point(0.1, 0.0))])
    result = simulate(the_day, policy_for(Scenario(policy="routes")), tick_s=10.0)
    first = next(e for e in result.history if e[1]["type"] == "assignment")
    task, worker = first[1]["task"], first[1]["worker"]
    other = "c2" if worker == "c1" else "c1"
    twice = [first, ("x-1", {**first[1], "worker": other})]
    assert check_history("sim", twice, incoming(the_day)).double_assignments
    overload = [first, ("x-1", {**first[1], "task": "o2" if task == "o1" else "o1"})]
    assert check_history("sim", overload, incoming(the_day)).over_capacity
    _check_history(the_day, result)
