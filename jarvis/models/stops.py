"""A courier's stop order: where a tick's new orders go into each courier's route.

A new order is priced at its cheapest insertion into the courier's planned route
(:mod:`jarvis.models.routes`); the courier then rides the route it was priced by.
For every courier a decision gives orders to, :func:`planned_stops` returns its whole
stop order afterwards:

- one new order: the places of its cheapest insertion, exactly as it was priced (a new
  pickup may come before a drop-off the courier already had);
- a bundle (:mod:`jarvis.models.bundles`): both pickups then both drop-offs after the
  route, in the bundle's order, exactly as the bundle row was priced;
- several new orders otherwise (a courier with several free slots, no bundling): each,
  in decision order, at its cheapest insertion into the route that already holds the
  ones before it (each was priced alone against the route of the tick).

The stop order is kept with the assignment (Redis: ``courier_routes``, written by the
fenced commit) as text, ``"+o1 +o2 -o1 -o2"``: ``+`` a pickup, ``-`` a drop-off (an order
id starts with a letter or digit, never with either). :func:`placed` turns it back into
:attr:`HeldOrder.place`, which :func:`jarvis.models.routes.plan` follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from jarvis.errors import DispatchError
from jarvis.models.bundles import Bundle
from jarvis.models.city import Order
from jarvis.models.city_problem import CityProblem
from jarvis.models.geo import local_xy_km
from jarvis.models.routes import HeldOrder, RouteStack, build_routes, pair_table, plan

__all__ = ["Stop", "parse_stops", "placed", "planned_stops", "stops_of", "stops_text"]

#: One stop of a route: (order id, is pickup).
Stop = tuple[str, bool]


def stops_text(stops: Sequence[Stop]) -> str:
    """The stored form of a stop order: ``"+o1 +o2 -o1 -o2"``."""
    return " ".join(["+" + order if up else "-" + order for order, up in stops])


def parse_stops(text: str) -> tuple[Stop, ...]:
    """The stops of a stored stop order (DispatchError if a token is not ``+id``/``-id``)."""
    out = []
    for token in text.split():
        if len(token) < 2 or token[0] not in "+-":
            raise DispatchError(f"stop order: {token!r} is not +<order id> or -<order id>")
        out.append((token[1:], token[0] == "+"))
    return tuple(out)


def stops_of(held: Sequence[HeldOrder]) -> tuple[Stop, ...]:
    """The stop order :func:`jarvis.models.routes.plan` rides for ``held``."""
    return tuple((order.id, up) for order, up in plan(held))


def placed(held: Sequence[HeldOrder], stops: Sequence[Stop]) -> tuple[HeldOrder, ...]:
    """``held`` with each order's place taken from ``stops``.

    Stops of orders not held are ignored (delivered, cancelled, declined since the order
    was stored). An order keeps no place when ``stops`` lacks its drop-off, or lacks the
    pickup of an order not picked up yet, or has its pickup after its drop-off.
    """
    pickup: dict[str, int] = {}
    dropoff: dict[str, int] = {}
    for n, (order, up) in enumerate(stops, start=1):
        (pickup if up else dropoff).setdefault(order, n)
    out = []
    for h in held:
        oid = h.order.id
        d = dropoff.get(oid)
        p = pickup.get(oid, 0 if h.picked_up else None)
        place = (p, d) if d is not None and p is not None and p < d else None
        out.append(HeldOrder(h.order, h.picked_up, place))
    return tuple(out)


def planned_stops(
    problem: CityProblem,
    held: Mapping[str, Sequence[HeldOrder]],
    pairs: Sequence[tuple[int, int]],
    bundles: Mapping[int, Bundle] | None = None,
) -> dict[str, tuple[Stop, ...]]:
    """The stop order of every courier that ``pairs`` (task index, worker index, in
    decision order) give orders to; ``bundles`` maps a worker to the bundle it took."""
    bundles = bundles or {}
    task_ids, ids = problem.task_ids, problem.worker_ids
    by_worker: dict[int, list[int]] = {}
    for t, w in pairs:
        by_worker.setdefault(w, []).append(t)
    # routes are built as stops already (order id, is pickup); a stop of a new order is
    # timed from the problem's arrays (its task index), one of a held order from it
    routes: dict[int, list[Stop]] = {}
    held_orders: dict[int, dict[str, Order]] = {}  # worker -> order id -> held order
    for w in by_worker:
        holds = held.get(ids[w])
        if not holds:
            routes[w] = []
            continue
        stops = plan(holds)
        held_orders[w] = {order.id: order for order, _ in stops}
        routes[w] = [(order.id, up) for order, up in stops]
    for w, b in bundles.items():
        routes[w] += [(task_ids[b.first], True), (task_ids[b.second], True)]
        routes[w] += [(task_ids[b.drop_first], False), (task_ids[b.drop_second], False)]
    # the first new order of each courier: placed as priced, all at once (a courier
    # holding nothing simply takes it: pickup, then drop-off)
    first = [(ts[0], w) for w, ts in by_worker.items() if w not in bundles]
    placing = [(t, w) for t, w in first if routes[w]]
    for t, w in first:
        if not routes[w]:
            routes[w] = [(task_ids[t], True), (task_ids[t], False)]
    if placing:
        tasks = np.array([t for t, _ in placing], np.intp)
        workers = np.array([w for _, w in placing], np.intp)
        at_i, at_j = problem.best_insertions(tasks, workers)
        for (t, w), i, j in zip(placing, at_i.tolist(), at_j.tolist(), strict=True):
            routes[w] = _insert(routes[w], task_ids[t], max(i, 0), max(j, 0))
    # further new orders of a courier: one by one into the route so far; the n-th
    # further order of every courier at once, routes of equal length stacked
    further = {w: ts[1:] for w, ts in by_worker.items() if w not in bundles and len(ts) > 1}
    index_of = {task_ids[t]: t for t, _ in pairs} if further else {}
    n = 0
    while further:
        by_length: dict[int, list[tuple[int, int]]] = {}
        for w, ts in further.items():
            by_length.setdefault(len(routes[w]), []).append((w, ts[n]))
        for group in by_length.values():
            stack = _timed_stack(problem, [(w, routes[w]) for w, _ in group], index_of, held_orders)
            table, pi, pj = pair_table(
                stack,
                np.arange(len(group), dtype=np.intp),
                problem.new_orders(np.array([t for _, t in group], np.intp)),
                problem.config.lateness_weight,
                problem.estimator,
                problem.now,
            )
            for (w, t), best in zip(group, table.argmin(axis=1).tolist(), strict=True):
                routes[w] = _insert(routes[w], task_ids[t], int(pi[best]), int(pj[best]))
        n += 1
        further = {w: ts for w, ts in further.items() if len(ts) > n}
    return {ids[w]: tuple(stops) for w, stops in routes.items()}


def _insert(stops: list[Stop], order: str, i: int, j: int) -> list[Stop]:
    """``stops`` with ``order``'s pickup before stop ``i`` and its drop-off before ``j``."""
    return [*stops[:i], (order, True), *stops[i:j], (order, False), *stops[j:]]


def _timed_stack(
    problem: CityProblem,
    routes: Sequence[tuple[int, Sequence[Stop]]],
    index_of: Mapping[str, int],
    held_orders: Mapping[int, Mapping[str, Order]],
) -> RouteStack:
    """The routes of workers through their stops (all of one length), timed as the
    problem times routes, stacked. A stop of a new order (``index_of``: its task index)
    is gathered from the problem's arrays with all the others at once; a held order's
    (``held_orders``, by worker) is read from the order."""
    cfg, now = problem.config, problem.now
    r, m = len(routes), len(routes[0][1])
    keys = [order for _, stops in routes for order, _ in stops]
    ups = np.array([up for _, stops in routes for _, up in stops], bool)
    found = np.array([index_of.get(key, -1) for key in keys], np.intp)
    tasks = np.maximum(found, 0)
    ll = np.where(ups[:, None], problem.pickup[tasks], problem.dropoff[tasks])
    ready = np.where(ups, problem.ready_in[tasks], -np.inf)
    weight = np.where(ups, 0.0, problem.weight[tasks])
    slack = problem.slack[tasks].astype(float)
    for k in np.flatnonzero(found < 0).tolist():
        order, up = held_orders[routes[k // m][0]][keys[k]], bool(ups[k])
        point = order.pickup if up else order.dropoff
        ll[k] = (point.lat, point.lon)
        ready[k] = order.ready_at - now if up else -np.inf
        weight[k] = 0.0 if up else 1.0 + cfg.priority_weight * order.priority
        slack[k] = order.created_at + cfg.promise_s - now
    workers = np.array([w for w, _ in routes], np.intp)
    stops_ll = ll.reshape(r, m, 2)
    stops_xy = local_xy_km(stops_ll[..., 0].ravel(), stops_ll[..., 1].ravel(), *problem.ref)
    nodes_ll = np.concatenate([problem.position[workers][:, None, :], stops_ll], axis=1)
    nodes_xy = np.concatenate(
        [problem.worker_xy[workers][:, None, :], stops_xy.reshape(r, m, 2)], axis=1
    )
    return build_routes(
        nodes_ll,
        nodes_xy,
        ready.reshape(r, m),
        weight.reshape(r, m),
        slack.reshape(r, m),
        problem.vehicle[workers],
        problem.estimator,
        now,
    )
