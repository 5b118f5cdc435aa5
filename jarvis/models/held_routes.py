"""The planned routes of a city's couriers who hold orders, timed and stacked.

Each courier who holds orders has a planned route (:func:`jarvis.models.routes.plan`);
routes of the same number of stops are stacked (:class:`~jarvis.models.routes.RouteStack`)
so that every (order, route) pair is costed in one numpy pass per stop. A route starts
where the courier is (the problem's positions, gathered by worker index).

Most couriers hold one order: its drop-off, after its pickup unless it is carried. Those
routes are built from one pass over the orders, the stops laid out with numpy; only a
courier holding several orders has its stops planned one by one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain

import numpy as np

from jarvis.errors import DispatchError
from jarvis.models.city import Order
from jarvis.models.config import CityConfig
from jarvis.models.estimate import EtaEstimator
from jarvis.models.geo import local_xy_km
from jarvis.models.problem import FloatArray, IntArray
from jarvis.models.routes import HeldOrder, RouteStack, build_routes, plan

__all__ = ["float_table", "stack_held_routes"]

#: The numbers of a stop: latitude, longitude, ready (seconds from now; -inf at a
#: drop-off), weight (0 at a pickup), slack (seconds from now to the promise).
STOP_FIELDS = 5


def float_table(rows: Sequence[tuple[float, ...]], width: int) -> FloatArray:
    """``rows`` as an array of ``width`` columns (``fromiter``: a fraction of the time
    ``np.array`` takes on a list of tuples)."""
    flat = np.fromiter(chain.from_iterable(rows), float, width * len(rows))
    return flat.reshape(len(rows), width)


def check_latlon(points: FloatArray, what: str) -> None:
    """Raise :class:`DispatchError` unless every row of ``points`` is a finite latitude
    and longitude in range."""
    if points.size and not (
        np.isfinite(points).all()
        and np.abs(points[:, 0]).max() <= 90.0
        and np.abs(points[:, 1]).max() <= 180.0
    ):
        raise DispatchError(f"{what}: coordinates must be finite latitude/longitude in range")


def stack_held_routes(
    worker_ids: Sequence[str],
    position: FloatArray,
    vehicle: IntArray,
    held: Mapping[str, Sequence[HeldOrder]],
    ref: tuple[float, float],
    config: CityConfig,
    estimator: EtaEstimator,
    now: float,
) -> tuple[list[RouteStack], IntArray, IntArray]:
    """Plan and time the route of every worker of ``worker_ids`` who holds orders; the
    stacks by number of stops, and per worker its stack and row in it (-1: none)."""
    n = len(worker_ids)
    worker_at = dict(zip(worker_ids, range(n), strict=True))
    found = [
        (w, mine)
        for w, mine in zip(map(worker_at.get, held), held.values(), strict=True)
        if w is not None and mine
    ]
    singles = [(w, mine[0].order, mine[0].picked_up) for w, mine in found if len(mine) == 1]
    planned: dict[int, list[tuple[int, tuple[tuple[Order, bool], ...]]]] = {}
    for w, mine in found:
        if len(mine) > 1:
            stops = plan(mine)
            planned.setdefault(len(stops), []).append((w, stops))
    parts: dict[int, list[tuple[IntArray, FloatArray]]] = {}
    pw, promise = config.priority_weight, config.promise_s
    if singles:
        _singles(singles, pw, promise, now, parts)
    for m, group in planned.items():
        stop = float_table(
            [
                (o.pickup.lat, o.pickup.lon, o.ready_at - now, 0.0, o.created_at + promise - now)
                if up
                else (o.dropoff.lat, o.dropoff.lon, -np.inf, 1.0 + pw * o.priority,
                      o.created_at + promise - now)
                for _, stops in group
                for o, up in stops
            ],
            STOP_FIELDS,
        ).reshape(len(group), m, STOP_FIELDS)  # fmt: skip
        workers = np.array([w for w, _ in group], np.intp)
        parts.setdefault(m, []).append((workers, stop))
    stacks: list[RouteStack] = []
    route_stack = np.full(n, -1, np.intp)
    route_row = np.full(n, -1, np.intp)
    for _, pieces in sorted(parts.items()):
        workers = np.concatenate([w for w, _ in pieces])
        stop = np.concatenate([s for _, s in pieces])
        ll = np.concatenate([position[workers][:, None, :], stop[:, :, :2]], axis=1)
        check_latlon(ll.reshape(-1, 2), "held order")
        ready, weight, slack = stop[:, :, 2], stop[:, :, 3], stop[:, :, 4]
        if not (np.isfinite(slack).all() and not np.isnan(ready).any()):
            raise DispatchError("held order created_at and ready_at must be finite")
        flat = ll.reshape(-1, 2)
        xy = local_xy_km(flat[:, 0], flat[:, 1], *ref).reshape(ll.shape)
        stack = build_routes(ll, xy, ready, weight, slack, vehicle[workers], estimator, now)
        route_stack[workers] = len(stacks)
        route_row[workers] = np.arange(len(workers))
        stacks.append(stack)
    return stacks, route_stack, route_row


def _singles(
    singles: list[tuple[int, Order, bool]],
    pw: float,
    promise: float,
    now: float,
    parts: dict[int, list[tuple[IntArray, FloatArray]]],
) -> None:
    """The routes of couriers holding one order, into ``parts`` by number of stops: the
    drop-off (1 stop) of a carried order, else its pickup and drop-off (2 stops)."""
    at, held, picked_up = zip(*singles, strict=True)
    orders = float_table(
        [
            (o.pickup.lat, o.pickup.lon, o.dropoff.lat, o.dropoff.lon,
             o.ready_at, o.created_at, o.priority)
            for o in held
        ],
        7,
    )  # fmt: skip
    workers = np.array(at, np.intp)
    carried = np.array(picked_up, bool)
    slack = orders[:, 5] + promise - now
    pickup = np.empty((len(singles), STOP_FIELDS))
    pickup[:, 0:2] = orders[:, 0:2]
    pickup[:, 2] = orders[:, 4] - now
    pickup[:, 3] = 0.0
    pickup[:, 4] = slack
    dropoff = np.empty((len(singles), STOP_FIELDS))
    dropoff[:, 0:2] = orders[:, 2:4]
    dropoff[:, 2] = -np.inf
    dropoff[:, 3] = 1.0 + pw * orders[:, 6]
    dropoff[:, 4] = slack
    if carried.any():
        parts.setdefault(1, []).append((workers[carried], dropoff[carried][:, None, :]))
    waiting = ~carried
    if waiting.any():
        both = np.stack([pickup[waiting], dropoff[waiting]], axis=1)
        parts.setdefault(2, []).append((workers[waiting], both))
