"""Demand: when orders arrive over a day (a lunch and a dinner peak), and from where.

The rate of orders is ``orders_per_hour`` times a profile between ``off_peak_share``
and 1: two bell curves, lunch around 12:30 and dinner around 19:45, on a floor. Arrivals
are a Poisson process with that rate, drawn by thinning, so a seed gives one day.
"""

from __future__ import annotations

import numpy as np

from jarvis.models import Order
from jarvis.sim.restaurants import Restaurant, point_in_city

__all__ = ["DINNER_S", "LUNCH_S", "demand_share", "make_orders"]

LUNCH_S = 12.5 * 3600.0
DINNER_S = 19.75 * 3600.0
_LUNCH_WIDTH_S = 0.9 * 3600.0
_DINNER_WIDTH_S = 1.1 * 3600.0


def demand_share(seconds_of_day: float, off_peak_share: float) -> float:
    """The share of the peak rate at that time of day (1 at the top of a peak)."""
    lunch = np.exp(-0.5 * ((seconds_of_day - LUNCH_S) / _LUNCH_WIDTH_S) ** 2)
    dinner = np.exp(-0.5 * ((seconds_of_day - DINNER_S) / _DINNER_WIDTH_S) ** 2)
    peak = float(max(lunch, dinner))
    return off_peak_share + (1.0 - off_peak_share) * peak


def make_orders(
    rng: np.random.Generator,
    restaurants: tuple[Restaurant, ...],
    day_start: float,
    start_s: float,
    end_s: float,
    orders_per_hour: float,
    off_peak_share: float,
    radius_km: float,
) -> tuple[Order, ...]:
    """The orders created between ``start_s`` and ``end_s`` (seconds of the day whose
    midnight is ``day_start``, unix seconds), oldest first."""
    rate_s = orders_per_hour / 3600.0
    orders: list[Order] = []
    t = start_s
    while True:
        t += float(rng.exponential(1.0 / rate_s))
        if t >= end_s:
            break
        keep = rng.uniform() < demand_share(t, off_peak_share)
        restaurant = restaurants[int(rng.integers(len(restaurants)))]
        prep = restaurant.prep_s(rng)
        dropoff = point_in_city(rng, radius_km)
        if not keep:
            continue
        created = day_start + t
        orders.append(
            Order(
                id=f"o{len(orders)}",
                pickup=restaurant.position,
                dropoff=dropoff,
                created_at=created,
                ready_at=created + prep,
            )
        )
    return tuple(orders)
