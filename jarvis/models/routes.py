"""A courier's planned route, and the cheapest insertion of a new order into it.

A courier's held orders (assigned, or picked up) form its planned route: first the
drop-offs of the orders it already carries, then the pickup and drop-off of each order
assigned but not picked up, in the order they were assigned. The route starts where the
courier is, now; at a pickup the courier waits until the order is ready.

Giving a new order to that courier costs its *cheapest insertion*: over every place for
the new pickup and every later place for its drop-off, the new order's delivery cost
plus what every order already on the route loses by arriving later, each costed like
any delivery (:func:`delivery_cost`, the city's weight and lateness). A delay is carried
along the route and absorbed where the courier would have waited for an order to be
ready anyway. The computation is vectorised over the new orders and all insertion
places, with one numpy pass per stop of the route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

from jarvis.models.city import Order
from jarvis.models.estimate import EtaEstimator, Legs, check_estimate
from jarvis.models.problem import FloatArray, IntArray

__all__ = [
    "HeldOrder",
    "NewOrders",
    "Route",
    "delivery_cost",
    "insertion_costs",
    "insertion_table",
    "plan",
]


@dataclass(frozen=True)
class HeldOrder:
    """An order a courier holds: assigned to it, and picked up or not yet."""

    order: Order
    picked_up: bool = False


def plan(held: Sequence[HeldOrder]) -> tuple[tuple[Order, bool], ...]:
    """The stops of the planned route as (order, is pickup): carried orders' drop-offs
    first, then pickup and drop-off of each order not yet picked up, in held order."""
    carried = [(h.order, False) for h in held if h.picked_up]
    waiting = [
        stop for h in held if not h.picked_up for stop in ((h.order, True), (h.order, False))
    ]
    return tuple(carried + waiting)


def delivery_cost(
    x: FloatArray, weight: FloatArray, slack: FloatArray, lateness_weight: float
) -> FloatArray:
    """``weight * (x + lateness_weight * max(0, x - slack))``: the city's delivery cost of
    an order delivered ``x`` seconds from now (see :class:`jarvis.models.CityConfig`)."""
    late = np.maximum(x - slack, 0.0)
    out: FloatArray = weight * (x + lateness_weight * late)
    return out


@dataclass(frozen=True)
class Route:
    """A planned route as arrays, timed in seconds from now.

    Node 0 is the courier's start, node ``k + 1`` is stop ``k``. ``ready`` is when the
    order of a pickup stop is ready (``-inf`` at drop-offs); ``weight`` is 0 at pickups.
    """

    nodes_ll: FloatArray  # (m + 1, 2) latitude, longitude
    nodes_xy: FloatArray  # (m + 1, 2) local km
    ready: FloatArray  # (m,)
    weight: FloatArray  # (m,)
    slack: FloatArray  # (m,)
    vehicle: int
    arrive: FloatArray  # (m,) arrival at each stop
    depart: FloatArray  # (m + 1,) departure from each node (0 at the start)

    @property
    def stops(self) -> int:
        return len(self.ready)

    def cost(self, lateness_weight: float) -> float:
        """The delivery cost of every order on the route, as planned."""
        return float(delivery_cost(self.arrive, self.weight, self.slack, lateness_weight).sum())


def _travel(
    estimator: EtaEstimator,
    origin_ll: FloatArray,
    origin_xy: FloatArray,
    dest_ll: FloatArray,
    dest_xy: FloatArray,
    vehicle: int,
    now: float,
) -> FloatArray:
    """Seconds from every origin to every destination: shape (origins, destinations)."""
    legs = Legs(
        origin_ll[:, None, :],
        dest_ll[None, :, :],
        cdist(origin_xy, dest_xy),
        np.full((1, 1), vehicle, np.intp),
        now,
    )
    out = np.broadcast_to(estimator.travel_s(legs), legs.distance_km.shape).astype(float)
    check_estimate(out, "route travel time")
    return out


def build_route(
    start_ll: FloatArray,
    start_xy: FloatArray,
    stops_ll: FloatArray,
    stops_xy: FloatArray,
    ready: FloatArray,
    weight: FloatArray,
    slack: FloatArray,
    vehicle: int,
    estimator: EtaEstimator,
    now: float,
) -> Route:
    """Time a route from ``start`` (shape (2,)) through ``stops`` (shape (m, 2))."""
    nodes_ll = np.vstack([start_ll[None, :], stops_ll])
    nodes_xy = np.vstack([start_xy[None, :], stops_xy])
    m = len(ready)
    legs = _travel(estimator, nodes_ll, nodes_xy, nodes_ll, nodes_xy, vehicle, now)
    arrive = np.empty(m)
    depart = np.zeros(m + 1)
    for k in range(m):
        arrive[k] = depart[k] + legs[k, k + 1]
        depart[k + 1] = max(arrive[k], ready[k])
    return Route(nodes_ll, nodes_xy, ready, weight, slack, vehicle, arrive, depart)


@dataclass(frozen=True)
class NewOrders:
    """Open orders to cost against routes, as arrays (``ready`` and ``slack`` from now)."""

    pickup_ll: FloatArray  # (n, 2)
    pickup_xy: FloatArray
    dropoff_ll: FloatArray
    dropoff_xy: FloatArray
    ready: FloatArray  # (n,)
    weight: FloatArray
    slack: FloatArray


def _pairs(m: int) -> tuple[IntArray, IntArray]:
    """Every (i, j), 0 <= i <= j <= m: pickup before stop i, drop-off before stop j."""
    i, j = np.triu_indices(m + 1)
    return i.astype(np.intp), j.astype(np.intp)


def insertion_costs(
    route: Route,
    new: NewOrders,
    lateness_weight: float,
    estimator: EtaEstimator,
    now: float,
) -> FloatArray:
    """Per new order: the least cost of inserting it into ``route`` (shape (n,)).

    That is the new order's delivery cost plus the added delivery cost of every order
    already on the route, minimised over all insertion places.
    """
    if len(new.ready) == 0:
        return np.zeros(0)
    table, _, _ = insertion_table(route, new, lateness_weight, estimator, now)
    best: FloatArray = table.min(axis=1)
    return best


def insertion_table(
    route: Route,
    new: NewOrders,
    lateness_weight: float,
    estimator: EtaEstimator,
    now: float,
) -> tuple[FloatArray, IntArray, IntArray]:
    """The cost of every insertion: shape (n, places), with each place's (i, j): the
    pickup goes before stop ``i``, the drop-off after it and before stop ``j``."""
    n, m = len(new.ready), route.stops
    v = route.vehicle
    to_p = _travel(estimator, route.nodes_ll, route.nodes_xy, new.pickup_ll, new.pickup_xy, v, now)
    to_d = _travel(
        estimator, route.nodes_ll, route.nodes_xy, new.dropoff_ll, new.dropoff_xy, v, now
    )
    stops_ll, stops_xy = route.nodes_ll[1:], route.nodes_xy[1:]
    p_to = _travel(estimator, new.pickup_ll, new.pickup_xy, stops_ll, stops_xy, v, now)
    d_to = _travel(estimator, new.dropoff_ll, new.dropoff_xy, stops_ll, stops_xy, v, now)
    trip = _trip(estimator, new, v, now)  # (n,) pickup -> its own drop-off
    pi, pj = _pairs(m)
    n_pairs = len(pi)
    delay = np.zeros((n, n_pairs))  # delay at departure from the previous node
    x_new = np.zeros((n, n_pairs))  # the new order's delivery time
    added = np.zeros((n, n_pairs))  # added cost to the orders already on the route
    ready_new = new.ready[:, None]
    for k in range(m + 1):
        # arriving at stop k (k == m: after the last stop) from node k
        base = route.depart[k]
        arrive_k = (route.arrive[k] if k < m else 0.0) + delay
        # the drop-off goes here, its pickup earlier (the delay already includes it)
        drop = np.flatnonzero((pj == k) & (pi < k))
        if len(drop):
            at_d = base + delay[:, drop] + to_d[k][:, None]
            x_new[:, drop] = at_d
            if k < m:
                arrive_k[:, drop] = at_d + d_to[:, k][:, None]
        # the pickup goes here (and maybe the drop-off right after it)
        pick = np.flatnonzero(pi == k)
        left_p = np.maximum(base + to_p[k][:, None], ready_new)
        together = pick[pj[pick] == k]
        apart = pick[pj[pick] > k]
        if len(together):
            at_d = left_p + trip[:, None]
            x_new[:, together] = np.broadcast_to(at_d, (n, len(together)))
            if k < m:
                arrive_k[:, together] = at_d + d_to[:, k][:, None]
        if len(apart) and k < m:
            arrive_k[:, apart] = left_p + p_to[:, k][:, None]
        if k == m:
            break
        if route.weight[k] > 0:
            old = delivery_cost(
                np.array(route.arrive[k]), route.weight[k], route.slack[k], lateness_weight
            )
            added += delivery_cost(arrive_k, route.weight[k], route.slack[k], lateness_weight) - old
        delay = np.maximum(arrive_k, route.ready[k]) - route.depart[k + 1]
    total = delivery_cost(x_new, new.weight[:, None], new.slack[:, None], lateness_weight)
    total += added
    return total, pi, pj


def _trip(estimator: EtaEstimator, new: NewOrders, vehicle: int, now: float) -> FloatArray:
    """Seconds from each new order's pickup to its own drop-off."""
    distance = np.hypot(*(new.dropoff_xy - new.pickup_xy).T)
    legs = Legs(new.pickup_ll, new.dropoff_ll, distance, np.full(1, vehicle, np.intp), now)
    out = np.broadcast_to(estimator.travel_s(legs), distance.shape).astype(float)
    check_estimate(out, "route travel time")
    return out
