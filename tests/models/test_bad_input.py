"""Degenerate and bad input: a clear JarvisError or a documented result."""

from __future__ import annotations

import numpy as np
import pytest

from jarvis.errors import DispatchError, DuplicateIdError, InvalidEstimateError
from jarvis.models import (
    NO_ELIGIBLE_WORKER,
    Courier,
    DequeueRule,
    Legs,
    Order,
    Point,
    Rules,
    Vehicle,
    decide_city,
    decide_store,
)
from jarvis.models.problem import FloatArray
from tests.models.strategies import NOW

HERE = Point(lat=48.85, lon=2.35)


def _order(i: int = 0) -> Order:
    return Order(id=f"o{i}", pickup=HERE, dropoff=HERE, created_at=NOW, ready_at=NOW)


class _Constant:
    """An estimator returning one value everywhere (to feed NaN, inf, negatives)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def travel_s(self, legs: Legs) -> FloatArray:
        return np.full(legs.distance_km.shape, self.value)


def test_empty_sides_are_decided_with_nothing_assigned() -> None:
    assert decide_city([], [], NOW).assignments == ()
    assert decide_city([], [Courier(id="c1", position=HERE)], NOW).objective == 0.0
    alone = decide_city([_order()], [], NOW)
    assert alone.unassigned == {"o0": NO_ELIGIBLE_WORKER}
    assert alone.objective > 0
    assert decide_store([], [], NOW).assignments == ()


def test_all_pairs_ineligible_assigns_nothing() -> None:
    rules = Rules(dequeue=[DequeueRule(name="nobody", min_priority=100)])
    couriers = [Courier(id=f"c{i}", position=HERE) for i in range(3)]
    decision = decide_city([_order(i) for i in range(3)], couriers, NOW, rules=rules)
    assert decision.assignments == ()
    assert set(decision.unassigned.values()) == {NO_ELIGIBLE_WORKER}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_invalid_estimates_raise(value: float) -> None:
    with pytest.raises(InvalidEstimateError, match="finite and >= 0"):
        decide_city([_order()], [Courier(id="c1", position=HERE)], NOW, estimator=_Constant(value))


def test_a_learned_estimator_plugs_in() -> None:
    decision = decide_city(
        [_order()], [Courier(id="c1", position=HERE)], NOW, estimator=_Constant(60.0)
    )
    assert [(a.task, a.worker, a.cost) for a in decision.assignments] == [("o0", "c1", 120.0)]


def test_duplicate_ids_raise() -> None:
    courier = Courier(id="c1", position=HERE)
    with pytest.raises(DuplicateIdError, match="order id 'o0'"):
        decide_city([_order(), _order()], [courier], NOW)
    with pytest.raises(DuplicateIdError, match="courier id 'c1'"):
        decide_city([_order()], [courier, courier], NOW)


def test_coordinates_out_of_range_raise() -> None:
    # Point refuses them when validated; model_construct skips validation, as a
    # careless caller might.
    bad = Point.model_construct(lat=123.0, lon=2.35)
    courier = Courier.model_construct(
        id="c1", position=bad, capacity=1, vehicle=Vehicle.BIKE, online=True
    )
    with pytest.raises(DispatchError, match="courier position"):
        decide_city([_order()], [courier], NOW)
    nan_order = Order.model_construct(
        id="o1", pickup=HERE, dropoff=HERE, created_at=float("nan"), ready_at=NOW, priority=0
    )
    with pytest.raises(DispatchError, match="finite"):
        decide_city([nan_order], [Courier(id="c1", position=HERE)], NOW)


def test_non_finite_now_and_unknown_path_raise() -> None:
    with pytest.raises(DispatchError, match="now"):
        decide_city([_order()], [], float("nan"))
    with pytest.raises(DispatchError, match="path"):
        decide_city([_order()], [], NOW, path="fastest")
