"""A day's inputs: the orders that arrive, the couriers' shifts, the cancellations.

:func:`make_day` draws one from a :class:`~jarvis.sim.scenario.Scenario` and its seed
(restaurants, then orders, then shifts, each from its own stream of the seed, so a
change of fleet size leaves the orders alone); :mod:`jarvis.sim.recorded` builds one from
a partition's recorded incoming stream.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from jarvis.models import Order
from jarvis.sim.couriers import Shift, make_shifts
from jarvis.sim.demand import make_orders
from jarvis.sim.restaurants import make_restaurants
from jarvis.sim.scenario import Scenario

__all__ = ["DAY_START", "Day", "make_day"]

#: Midnight (UTC) of the simulated day: Monday 5 January 2026.
DAY_START = float(calendar.timegm((2026, 1, 5, 0, 0, 0)))


@dataclass(frozen=True)
class Day:
    """What happens to a city whatever the dispatcher decides. Times are unix seconds;
    orders stop arriving at ``end``."""

    orders: tuple[Order, ...]  # oldest first
    shifts: tuple[Shift, ...]
    start: float
    end: float
    #: Order id -> when it is cancelled (ignored once the order is picked up).
    cancels: Mapping[str, float] = field(default_factory=dict)


def make_day(scenario: Scenario) -> Day:
    """The seeded day of ``scenario``: the same seed always gives the same day."""
    streams = np.random.SeedSequence(scenario.seed).spawn(3)
    place_rng, order_rng, shift_rng = (np.random.default_rng(s) for s in streams)
    restaurants = make_restaurants(
        place_rng, scenario.restaurants, scenario.radius_km, scenario.prep_mean_s
    )
    orders = make_orders(
        order_rng,
        restaurants,
        DAY_START,
        scenario.start_s,
        scenario.end_s,
        scenario.orders_per_hour,
        scenario.off_peak_share,
        scenario.radius_km,
    )
    shifts = make_shifts(
        shift_rng,
        scenario.couriers,
        DAY_START,
        scenario.start_s,
        scenario.end_s,
        scenario.capacity,
        scenario.vehicle,
        scenario.radius_km,
    )
    return Day(orders, shifts, DAY_START + scenario.start_s, DAY_START + scenario.end_s)
