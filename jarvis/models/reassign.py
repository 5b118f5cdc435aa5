"""Reassignment: move an assigned order, not yet picked up, to a courier who does better.

After a tick's open orders are decided, each *movable* order (assigned, not picked up,
moved fewer than ``CityConfig.reassign_max`` times) is priced where it is: its marginal
cost on its courier's route, the route's delivery cost with it minus without it
(:meth:`jarvis.models.routes.Route.cost`). It then competes for the slots still free
after this tick's assignments, in one more assignment problem whose leave-unassigned
cost for that order is its marginal cost less ``reassign_min_saving``: the solver moves
it only to a courier on whom it costs less than that, so a move saves more than the
threshold (the hysteresis that keeps orders from flapping between two couriers of
about the same cost). Its own courier is never a candidate. Open orders come first:
they take their slots before any move is considered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jarvis.models.city import Courier, Order
from jarvis.models.city_problem import CityProblem
from jarvis.models.config import CityConfig
from jarvis.models.estimate import EtaEstimator
from jarvis.models.routes import HeldOrder
from jarvis.models.rules import Rules
from jarvis.models.solver import Decision, decide
from jarvis.models.stops import Stop, placed, planned_stops

__all__ = ["Movable", "Move", "find_moves", "marginal_cost", "tick_routes"]


@dataclass(frozen=True)
class Movable:
    """An assigned order that is not picked up, with its courier and all it holds."""

    order: Order
    courier: Courier  # the courier it is assigned to (position, vehicle)
    held: tuple[HeldOrder, ...]  # everything that courier holds, ``order`` included
    moves: int = 0  # times the order was reassigned already


@dataclass(frozen=True)
class Move:
    """Order ``task`` goes from courier ``source`` to ``worker``, saving ``saving``."""

    task: str
    worker: str
    source: str
    saving: float
    #: The whole stop order of ``worker`` afterwards (jarvis.models.stops), with this
    #: tick's new orders and moves to it.
    stops: tuple[Stop, ...] = ()


def _route_cost(
    courier: Courier,
    held: Sequence[HeldOrder],
    now: float,
    config: CityConfig,
    estimator: EtaEstimator | None,
) -> float:
    if not held:
        return 0.0
    problem = CityProblem([], [courier], now, config, None, estimator, {courier.id: held})
    return problem.routes[0].cost(config.lateness_weight)


def marginal_cost(
    movable: Movable, now: float, config: CityConfig, estimator: EtaEstimator | None = None
) -> float:
    """What ``movable.order`` adds to its courier's route: cost with it minus without."""
    courier = movable.courier.model_copy(update={"online": True})
    without = [h for h in movable.held if h.order.id != movable.order.id]
    with_it = _route_cost(courier, movable.held, now, config, estimator)
    return with_it - _route_cost(courier, without, now, config, estimator)


def find_moves(
    decision: Decision,
    orders: Sequence[Order],
    couriers: Sequence[Courier],
    now: float,
    config: CityConfig,
    rules: Rules | None = None,
    estimator: EtaEstimator | None = None,
    *,
    held: Mapping[str, Sequence[HeldOrder]] | None = None,
    movable: Sequence[Movable] = (),
    declines: Sequence[tuple[str, str, float]] = (),
) -> tuple[Move, ...]:
    """The moves worth making after ``decision`` (this tick's assignments of ``orders``
    to ``couriers``, whose ``capacity`` is their free capacity before it)."""
    if config.reassign_max <= 0 or not movable:
        return ()
    by_id = {o.id: o for o in orders}
    taken: dict[str, list[Order]] = {}
    for a in decision.assignments:
        taken.setdefault(a.worker, []).append(by_id[a.task])
    free: list[Courier] = []
    routes: dict[str, list[HeldOrder]] = {}
    for c in couriers:
        left = c.capacity - len(taken.get(c.id, ()))
        if c.online and left > 0:
            free.append(c.model_copy(update={"capacity": left}))
            routes[c.id] = [
                *(held or {}).get(c.id, ()),
                *(HeldOrder(o) for o in taken.get(c.id, ())),
            ]
            if c.id in decision.routes:
                routes[c.id] = list(placed(routes[c.id], decision.routes[c.id]))
    leave: dict[str, float] = {}
    rows: list[Order] = []
    source: dict[str, str] = {}
    for m in movable:
        if m.moves >= config.reassign_max or m.order.id in source:
            continue
        budget = marginal_cost(m, now, config, estimator) - config.reassign_min_saving
        if budget > 0:
            rows.append(m.order)
            leave[m.order.id] = budget
            source[m.order.id] = m.courier.id
    if not rows or not free:
        return ()
    problem = CityProblem(
        rows,
        free,
        now,
        config,
        rules,
        estimator,
        routes,
        declines,
        leave=leave,
        forbidden=[(o, c) for o, c in source.items()],
    )
    moved = decide(problem)
    task_at = {t: i for i, t in enumerate(problem.task_ids)}
    worker_at = {w: i for i, w in enumerate(problem.worker_ids)}
    pairs = [(task_at[a.task], worker_at[a.worker]) for a in moved.assignments]
    stops = planned_stops(problem, routes, pairs)
    return tuple(
        Move(
            a.task,
            a.worker,
            source[a.task],
            leave[a.task] + config.reassign_min_saving - a.cost,
            stops[a.worker],
        )
        for a in moved.assignments
    )


def tick_routes(decision: Decision, moves: Sequence[Move]) -> dict[str, tuple[Stop, ...]]:
    """The stop order to store for every courier a tick's assignments and moves give
    orders to: a move's target's comes with the move; an order moved away leaves every
    other courier's stop order."""
    if not moves:
        return dict(decision.routes)
    routes = dict(decision.routes)
    for m in moves:
        routes[m.worker] = m.stops
    gone = {m.task: m.worker for m in moves}
    return {
        courier: tuple(s for s in stops if gone.get(s[0], courier) == courier)
        for courier, stops in routes.items()
    }
