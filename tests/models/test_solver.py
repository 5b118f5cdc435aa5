"""The solver is optimal, never assigns a forbidden pair, and is deterministic."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jarvis.models import (
    CHEAPER_TO_WAIT,
    NO_ELIGIBLE_WORKER,
    NO_FREE_CAPACITY,
    Associate,
    CityConfig,
    Courier,
    Decision,
    Order,
    Rules,
    StoreConfig,
    WorkItem,
    decide_city,
    decide_store,
)
from jarvis.models.city_problem import CityProblem
from tests.models.strategies import (
    NOW,
    brute_force,
    city_configs,
    city_reference,
    city_rules,
    couriers,
    orders,
    store_configs,
    store_instances,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_decision(
    decision: Decision,
    task_ids: list[str],
    worker_ids: list[str],
    costs: list[list[float | None]],
    leave: list[float],
    slots: list[int],
) -> None:
    """Every pair eligible, capacities kept, costs and objective as the reference says."""
    t_index = {t: i for i, t in enumerate(task_ids)}
    w_index = {w: i for i, w in enumerate(worker_ids)}
    load = [0] * len(worker_ids)
    objective = 0.0
    for a in decision.assignments:
        t, w = t_index[a.task], w_index[a.worker]
        cost = costs[t][w]
        assert cost is not None, f"ineligible pair {a.task} -> {a.worker} assigned"
        assert cost < leave[t] + 1e-6, "assigned although waiting is cheaper"
        assert math.isclose(a.cost, cost, rel_tol=1e-9, abs_tol=1e-6)
        load[w] += 1
        objective += cost
    assert all(load[w] <= slots[w] for w in range(len(worker_ids))), "capacity exceeded"
    assigned = {a.task for a in decision.assignments}
    assert len(assigned) == len(decision.assignments), "a task assigned twice"
    assert set(decision.unassigned) == set(task_ids) - assigned
    for task, reason in decision.unassigned.items():
        t = t_index[task]
        eligible = [c for c in costs[t] if c is not None]
        if not eligible:
            assert reason == NO_ELIGIBLE_WORKER
        elif min(eligible) >= leave[t]:
            assert reason == CHEAPER_TO_WAIT
        else:
            assert reason == NO_FREE_CAPACITY
        objective += leave[t]
    assert math.isclose(decision.objective, objective, rel_tol=1e-9, abs_tol=1e-6)


@SETTINGS
@given(orders(), couriers(), city_configs, city_rules())
def test_city_decision_is_optimal_against_brute_force(
    order_list: list[Order], courier_list: list[Courier], config: CityConfig, rules: Rules
) -> None:
    decision = decide_city(order_list, courier_list, NOW, config, rules)
    problem = CityProblem(order_list, courier_list, NOW, config, rules)
    costs, leave, slots = city_reference(problem, order_list, courier_list, config, rules)
    online = [c.id for c in courier_list if c.online]
    _check_decision(decision, [o.id for o in order_list], online, costs, leave, slots)
    best = brute_force(costs, leave, slots)
    assert math.isclose(decision.objective, best, rel_tol=1e-9, abs_tol=1e-6)
    assert decision.path == "exact"


@SETTINGS
@given(store_instances(), store_configs, st.booleans())
def test_store_decision_is_optimal_against_brute_force(
    instance: tuple[list[WorkItem], list[Associate]], config: StoreConfig, limit_remote: bool
) -> None:
    items, associates = instance
    rules = Rules.from_mapping(
        {"dequeue": [{"name": "remote-urgent", "remote": True, "min_priority": 50}]}
        if limit_remote
        else {}
    )
    decision = decide_store(items, associates, NOW, config, rules)
    costs: list[list[float | None]] = []
    leave = []
    for item in items:
        weight = 1.0 + config.priority_weight * item.priority
        overdue = 0.0 if item.due_at is None else max(0.0, NOW + item.duration_s - item.due_at)
        leave.append(weight * (config.wait_cost_s + config.lateness_weight * overdue))
        costs.append(
            [
                None
                if rules.refuses_item(a, item)
                else item.duration_s + (config.remote_penalty_s if a.remote else 0.0)
                for a in associates
            ]
        )
    slots = [min(config.items_per_associate, rules.limits(a).max_tasks) for a in associates]
    _check_decision(
        decision, [i.id for i in items], [a.id for a in associates], costs, leave, slots
    )
    assert math.isclose(decision.objective, brute_force(costs, leave, slots), abs_tol=1e-6)


@settings(max_examples=50, deadline=None)
@given(orders(max_size=8), couriers(max_size=8), city_rules())
def test_same_input_gives_the_same_decision(
    order_list: list[Order], courier_list: list[Courier], rules: Rules
) -> None:
    first = decide_city(order_list, courier_list, NOW, CityConfig(), rules)
    second = decide_city(list(order_list), list(courier_list), NOW, CityConfig(), rules)
    assert first == second


def test_offline_couriers_are_never_assigned() -> None:
    here = {"lat": 48.85, "lon": 2.35}
    order = Order(id="o1", pickup=here, dropoff=here, created_at=NOW, ready_at=NOW)
    offline = Courier(id="c1", position=here, online=False)
    decision = decide_city([order], [offline], NOW)
    assert decision.assignments == ()
    assert decision.unassigned == {"o1": NO_ELIGIBLE_WORKER}


def test_a_courier_takes_several_orders_up_to_its_free_capacity() -> None:
    here = {"lat": 48.85, "lon": 2.35}
    orders_ = [
        Order(id=f"o{i}", pickup=here, dropoff=here, created_at=NOW, ready_at=NOW) for i in range(3)
    ]
    courier = Courier(id="c1", position=here, capacity=2)
    decision = decide_city(orders_, [courier], NOW)
    assert [a.task for a in decision.assignments] == ["o0", "o1"]
    assert decision.unassigned == {"o2": NO_FREE_CAPACITY}


def test_a_far_order_is_left_because_waiting_is_cheaper() -> None:
    here = {"lat": 48.85, "lon": 2.35}
    far = {"lat": 49.40, "lon": 2.35}  # about 60 km north
    order = Order(id="o1", pickup=far, dropoff=far, created_at=NOW, ready_at=NOW)
    decision = decide_city([order], [Courier(id="c1", position=here)], NOW)
    assert decision.unassigned == {"o1": CHEAPER_TO_WAIT}
    assert decision.objective == CityConfig().max_delivery_s * 1.0 + 900.0  # late at horizon


def test_an_order_too_far_for_max_delivery_is_assigned_once_it_has_waited() -> None:
    pickup = {"lat": 48.85, "lon": 2.35}
    far = {"lat": 49.03, "lon": 2.35}  # about 20 km north: more than 45 minutes' ride
    order = Order(id="o1", pickup=pickup, dropoff=far, created_at=NOW, ready_at=NOW)
    courier = Courier(id="c1", position=pickup)
    # New, it waits for a courier who could bring it within max_delivery_s: none can.
    assert decide_city([order], [courier], NOW).unassigned == {"o1": CHEAPER_TO_WAIT}
    # Each second waited widens that by a second: it is not starved.
    later = decide_city([order], [courier], NOW + 3 * 3600)
    assert [(a.task, a.worker) for a in later.assignments] == [("o1", "c1")]
