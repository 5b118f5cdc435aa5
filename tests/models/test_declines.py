"""A courier who declined an order is not offered it again within the cooldown."""

from __future__ import annotations

import pytest

from jarvis.models import (
    NO_ELIGIBLE_WORKER,
    CityConfig,
    Courier,
    HeldOrder,
    Order,
    Point,
    decide_city,
)
from tests.models.strategies import NOW

HERE = Point(lat=48.85, lon=2.35)
ORDER = Order(id="o1", pickup=HERE, dropoff=Point(lat=48.86, lon=2.36), created_at=NOW,
              ready_at=NOW)  # fmt: skip
NEAR = Courier(id="near", position=HERE)
FAR = Courier(id="far", position=Point(lat=48.855, lon=2.355))
CONFIG = CityConfig(decline_cooldown_s=300.0)


def _workers(declines: list[tuple[str, str, float]]) -> list[str]:
    decision = decide_city([ORDER], [NEAR, FAR], NOW, CONFIG, declines=declines)
    return [a.worker for a in decision.assignments]


def test_a_declined_order_goes_to_another_courier_within_the_cooldown() -> None:
    assert _workers([]) == ["near"]
    assert _workers([("o1", "near", NOW - 299.0)]) == ["far"]


def test_after_the_cooldown_the_decliner_may_get_it_again() -> None:
    assert _workers([("o1", "near", NOW - 300.0)]) == ["near"]


def test_declines_of_other_orders_or_couriers_change_nothing() -> None:
    assert _workers([("o2", "near", NOW), ("o1", "gone", NOW)]) == ["near"]


@pytest.mark.parametrize("bundle_km", [0.0, 0.5])
def test_a_decliner_with_a_route_is_not_offered_it_either(bundle_km: float) -> None:
    config = CityConfig(decline_cooldown_s=300.0, bundle_pickup_km=bundle_km)
    carried = Order(id="h1", pickup=HERE, dropoff=ORDER.dropoff, created_at=NOW, ready_at=NOW)
    busy = NEAR.model_copy(update={"capacity": 2})
    held = {"near": [HeldOrder(carried, picked_up=True)]}
    decision = decide_city([ORDER], [busy], NOW, config, held=held)
    assert [a.worker for a in decision.assignments] == ["near"]
    decision = decide_city([ORDER], [busy], NOW, config, held=held, declines=[("o1", "near", NOW)])
    assert decision.assignments == ()
    assert decision.unassigned == {"o1": NO_ELIGIBLE_WORKER}
