"""A courier's planned route, and the cheapest insertion of a new order into it.

A courier's held orders (assigned, or picked up) form its planned route. Each order
placed by a decision carries its place in the courier's stop order
(:attr:`HeldOrder.place`, the positions chosen by the cheapest insertion below, kept in
Redis with the assignment) and the route follows it; an order without a place (state
written before stop orders were kept) falls back to the first rule: drop-offs of the
orders the courier already carries first, then the pickup and drop-off of each order
assigned but not picked up, in the order they were assigned, after the placed stops.
The route starts where the courier is, now; at a pickup the courier waits until the
order is ready.

Giving a new order to that courier costs its *cheapest insertion*: over every place for
the new pickup and every later place for its drop-off, the new order's delivery cost
plus what every order already on the route loses by arriving later, each costed like
any delivery (:func:`delivery_cost`, the city's weight and lateness). A delay is carried
along the route and absorbed where the courier would have waited for an order to be
ready anyway. The computation is vectorised over (route, new order) pairs and all
insertion places: routes of the same number of stops are stacked
(:class:`RouteStack`), and one numpy pass per stop costs every pair at once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jarvis.errors import DispatchError
from jarvis.models.city import Order
from jarvis.models.estimate import EtaEstimator, Legs, check_estimate
from jarvis.models.problem import FloatArray, IntArray

__all__ = [
    "HeldOrder",
    "NewOrders",
    "Route",
    "RouteMap",
    "RouteStack",
    "build_routes",
    "delivery_cost",
    "insertion_costs",
    "insertion_table",
    "pair_costs",
    "pair_table",
    "plan",
    "stack_one",
]


@dataclass(frozen=True)
class HeldOrder:
    """An order a courier holds: assigned to it, and picked up or not yet.

    ``place`` is (pickup place, drop-off place) in the courier's stop order: any two
    increasing numbers, compared only with the places of the courier's other orders
    (see :mod:`jarvis.models.stops`). None: no stored place.
    """

    order: Order
    picked_up: bool = False
    place: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.place is not None and not 0 <= self.place[0] < self.place[1]:
            raise DispatchError(
                f"held order {self.order.id}: its pickup must come before its drop-off, "
                f"got places {self.place!r}"
            )


def plan(held: Sequence[HeldOrder]) -> tuple[tuple[Order, bool], ...]:
    """The stops of the planned route as (order, is pickup).

    Drop-offs of carried orders without a place first, then every placed stop in place
    order (a picked-up order keeps only its drop-off), then pickup and drop-off of each
    order without a place not yet picked up, in held order.
    """
    carried = [(h.order, False) for h in held if h.picked_up and h.place is None]
    placed: list[tuple[int, int, Order, bool]] = []
    for h in held:
        if h.place is not None:
            if not h.picked_up:
                placed.append((h.place[0], 0, h.order, True))
            placed.append((h.place[1], 1, h.order, False))
    placed.sort(key=lambda stop: (stop[0], stop[1]))
    waiting = [
        stop
        for h in held
        if not h.picked_up and h.place is None
        for stop in ((h.order, True), (h.order, False))
    ]
    return tuple(carried + [(o, up) for _, _, o, up in placed] + waiting)


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
    nodes_ll = np.vstack([start_ll[None, :], stops_ll])[None]
    nodes_xy = np.vstack([start_xy[None, :], stops_xy])[None]
    one = np.array([vehicle], np.intp)
    stacked = build_routes(
        nodes_ll, nodes_xy, ready[None], weight[None], slack[None], one, estimator, now
    )
    return stacked.route(0)


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


@dataclass(frozen=True)
class _Places:
    """The insertion places of a route of ``m`` stops, and which of them each step of
    :func:`pair_table` (stop ``k``, 0 <= k <= m) writes: the drop-off goes before stop
    ``k`` after an earlier pickup (``drop``), or the pickup goes there (``together``:
    with its drop-off right after; ``apart``: the drop-off later)."""

    i: IntArray
    j: IntArray
    drop: tuple[IntArray, ...]
    together: tuple[IntArray, ...]
    apart: tuple[IntArray, ...]


@functools.cache
def _places(m: int) -> _Places:
    i, j = (a.astype(np.intp) for a in np.triu_indices(m + 1))
    steps = range(m + 1)
    return _Places(
        i,
        j,
        tuple(np.flatnonzero((j == k) & (i < k)) for k in steps),
        tuple(np.flatnonzero((i == k) & (j == k)) for k in steps),
        tuple(np.flatnonzero((i == k) & (j > k)) for k in steps),
    )


@dataclass(frozen=True)
class RouteStack:
    """Routes of the same number of stops ``m``, stacked: the arrays of :class:`Route`
    with a leading axis of routes (``vehicle`` has one code per route)."""

    nodes_ll: FloatArray  # (r, m + 1, 2)
    nodes_xy: FloatArray  # (r, m + 1, 2)
    ready: FloatArray  # (r, m)
    weight: FloatArray  # (r, m)
    slack: FloatArray  # (r, m)
    vehicle: IntArray  # (r,)
    arrive: FloatArray  # (r, m)
    depart: FloatArray  # (r, m + 1)

    @property
    def stops(self) -> int:
        return int(self.ready.shape[1])

    def route(self, r: int) -> Route:
        """Route ``r`` of the stack (views, no copies)."""
        return Route(
            self.nodes_ll[r], self.nodes_xy[r], self.ready[r], self.weight[r], self.slack[r],
            int(self.vehicle[r]), self.arrive[r], self.depart[r],
        )  # fmt: skip


def stack_one(route: Route) -> RouteStack:
    """``route`` as a stack of one."""
    return RouteStack(
        route.nodes_ll[None], route.nodes_xy[None], route.ready[None], route.weight[None],
        route.slack[None], np.array([route.vehicle], np.intp), route.arrive[None],
        route.depart[None],
    )  # fmt: skip


def build_routes(
    nodes_ll: FloatArray,
    nodes_xy: FloatArray,
    ready: FloatArray,
    weight: FloatArray,
    slack: FloatArray,
    vehicle: IntArray,
    estimator: EtaEstimator,
    now: float,
) -> RouteStack:
    """Time ``r`` routes of ``m`` stops at once: node 0 of each is the courier's start.

    Shapes: nodes (r, m + 1, 2); ``ready``, ``weight`` and ``slack`` (r, m); ``vehicle`` (r,).
    """
    r, m = ready.shape
    step = np.hypot(*np.moveaxis(nodes_xy[:, 1:] - nodes_xy[:, :-1], 2, 0))
    legs = Legs(nodes_ll[:, :-1], nodes_ll[:, 1:], step, vehicle[:, None], now)
    travel = np.broadcast_to(estimator.travel_s(legs), (r, m)).astype(float)
    check_estimate(travel, "route travel time")
    arrive = np.empty((r, m))
    depart = np.zeros((r, m + 1))
    for k in range(m):
        arrive[:, k] = depart[:, k] + travel[:, k]
        depart[:, k + 1] = np.maximum(arrive[:, k], ready[:, k])
    return RouteStack(nodes_ll, nodes_xy, ready, weight, slack, vehicle, arrive, depart)


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
    which = np.zeros(len(new.ready), np.intp)
    return pair_table(stack_one(route), which, new, lateness_weight, estimator, now)


def pair_costs(
    routes: RouteStack,
    which: IntArray,
    new: NewOrders,
    lateness_weight: float,
    estimator: EtaEstimator,
    now: float,
) -> FloatArray:
    """The cheapest insertion of new order ``p`` into route ``which[p]``, for every pair
    ``p`` at once (``new`` holds one order per pair): shape (pairs,)."""
    if len(which) == 0:
        return np.zeros(0)
    table, _, _ = pair_table(routes, which, new, lateness_weight, estimator, now)
    best: FloatArray = table.min(axis=1)
    return best


def _between(
    estimator: EtaEstimator,
    a_ll: FloatArray,
    a_xy: FloatArray,
    b_ll: FloatArray,
    b_xy: FloatArray,
    vehicle: IntArray,
    now: float,
) -> FloatArray:
    """Seconds from ``a`` to ``b`` (broadcasting, coordinates in the last axis)."""
    diff = b_xy - a_xy
    km = np.hypot(diff[..., 0], diff[..., 1])
    out = np.asarray(estimator.travel_s(Legs(a_ll, b_ll, km, vehicle, now)), float)
    if out.shape != km.shape:  # read only: a broadcast view will do
        out = np.broadcast_to(out, km.shape)
    check_estimate(out, "route travel time")
    return out


def pair_table(
    routes: RouteStack,
    which: IntArray,
    new: NewOrders,
    lateness_weight: float,
    estimator: EtaEstimator,
    now: float,
) -> tuple[FloatArray, IntArray, IntArray]:
    """:func:`insertion_table` for pairs: row ``p`` inserts new order ``p`` into route
    ``which[p]``. One numpy pass per stop, over every pair and insertion place."""
    n, m = len(which), routes.stops
    nodes_ll, nodes_xy = routes.nodes_ll[which], routes.nodes_xy[which]  # (n, m + 1, 2)
    v = routes.vehicle[which][:, None]
    p_ll, p_xy = new.pickup_ll[:, None, :], new.pickup_xy[:, None, :]
    d_ll, d_xy = new.dropoff_ll[:, None, :], new.dropoff_xy[:, None, :]
    to_p = _between(estimator, nodes_ll, nodes_xy, p_ll, p_xy, v, now)  # (n, m + 1)
    to_d = _between(estimator, nodes_ll, nodes_xy, d_ll, d_xy, v, now)
    p_to = _between(estimator, p_ll, p_xy, nodes_ll[:, 1:], nodes_xy[:, 1:], v, now)  # (n, m)
    d_to = _between(estimator, d_ll, d_xy, nodes_ll[:, 1:], nodes_xy[:, 1:], v, now)
    trip = _between(estimator, p_ll, p_xy, d_ll, d_xy, v, now)  # (n, 1)
    depart, arrive = routes.depart[which], routes.arrive[which]
    ready, weight, slack = routes.ready[which], routes.weight[which], routes.slack[which]
    places = _places(m)
    pi, pj = places.i, places.j
    n_pairs = len(pi)
    delay = np.zeros((n, n_pairs))  # delay at departure from the previous node
    x_new = np.zeros((n, n_pairs))  # the new order's delivery time
    added = np.zeros((n, n_pairs))  # added cost to the orders already on the route
    ready_new = new.ready[:, None]
    for k in range(m + 1):
        # arriving at stop k (k == m: after the last stop) from node k
        base = depart[:, k : k + 1]
        arrive_k = (arrive[:, k : k + 1] if k < m else 0.0) + delay
        # the drop-off goes here, its pickup earlier (the delay already includes it)
        drop = places.drop[k]
        if len(drop):
            at_d = base + delay[:, drop] + to_d[:, k : k + 1]
            x_new[:, drop] = at_d
            if k < m:
                arrive_k[:, drop] = at_d + d_to[:, k : k + 1]
        # the pickup goes here (and maybe the drop-off right after it)
        left_p = np.maximum(base + to_p[:, k : k + 1], ready_new)
        together, apart = places.together[k], places.apart[k]
        if len(together):
            at_d = left_p + trip
            x_new[:, together] = np.broadcast_to(at_d, (n, len(together)))
            if k < m:
                arrive_k[:, together] = at_d + d_to[:, k : k + 1]
        if len(apart) and k < m:
            arrive_k[:, apart] = left_p + p_to[:, k : k + 1]
        if k == m:
            break
        w_k, s_k = weight[:, k : k + 1], slack[:, k : k + 1]
        if (w_k > 0).any():  # drop-offs weigh; pickups (weight 0) cost nothing
            old = delivery_cost(arrive[:, k : k + 1], w_k, s_k, lateness_weight)
            added += delivery_cost(arrive_k, w_k, s_k, lateness_weight) - old
        delay = np.maximum(arrive_k, ready[:, k : k + 1]) - depart[:, k + 1 : k + 2]
    total = delivery_cost(x_new, new.weight[:, None], new.slack[:, None], lateness_weight)
    total += added
    return total, pi, pj


class RouteMap(Mapping[int, Route]):
    """The planned route of each worker who holds one, by worker index, made on demand
    (views into its stack) rather than one object per courier at every tick."""

    def __init__(self, stacks: list[RouteStack], stack_of: IntArray, row_of: IntArray) -> None:
        self._stacks, self._stack_of, self._row_of = stacks, stack_of, row_of
        self._workers = np.flatnonzero(stack_of >= 0).tolist()

    def __getitem__(self, w: int) -> Route:
        if not 0 <= w < len(self._stack_of) or self._stack_of[w] < 0:
            raise KeyError(w)
        return self._stacks[int(self._stack_of[w])].route(int(self._row_of[w]))

    def __iter__(self) -> Iterator[int]:
        return iter(self._workers)

    def __len__(self) -> int:
        return len(self._workers)
