"""The decision of one tick: the cheapest set of assignments that no rule forbids.

Each task is either assigned to an eligible worker (at most ``slots`` tasks per worker)
or left for the next tick at its leave-unassigned cost; the solver minimises the sum.
A task left unassigned comes with its reason:

- ``"no eligible worker"``: no free worker may take it (rules, role, licence, store);
- ``"cheaper to wait"``: some may, but none beats leaving it for the next tick;
- ``"no free capacity"``: some would, but they are better used on other tasks.

Input the solver cannot decide on (duplicate ids, NaN or infinite estimates,
coordinates out of range) raises a :class:`jarvis.errors.DispatchError` subclass; empty
sides are decided (nothing assigned). The same input always gives the same decision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from jarvis.errors import DispatchError
from jarvis.models.assign import prepare, solve_prepared
from jarvis.models.bundles import Bundle, BundleProblem, find_bundles
from jarvis.models.city import Courier, Order
from jarvis.models.city_problem import CityProblem
from jarvis.models.config import CityConfig, StoreConfig
from jarvis.models.estimate import EtaEstimator
from jarvis.models.large import solve_large
from jarvis.models.problem import BoolArray, FloatArray, IntArray, Problem
from jarvis.models.pruned import prunable, solve_pruned
from jarvis.models.routes import HeldOrder
from jarvis.models.rules import Rules
from jarvis.models.stops import Stop, planned_stops
from jarvis.models.store_problem import StoreProblem
from jarvis.models.work import Associate, WorkItem

__all__ = [
    "CHEAPER_TO_WAIT",
    "NO_ELIGIBLE_WORKER",
    "NO_FREE_CAPACITY",
    "Assignment",
    "Decision",
    "decide",
    "decide_bundled",
    "decide_city",
    "decide_store",
    "uses_large_path",
]

log = logging.getLogger(__name__)

NO_ELIGIBLE_WORKER = "no eligible worker"
CHEAPER_TO_WAIT = "cheaper to wait"
NO_FREE_CAPACITY = "no free capacity"


@dataclass(frozen=True)
class Assignment:
    """Task ``task`` goes to worker ``worker``, at ``cost`` (the solver's units)."""

    task: str
    worker: str
    cost: float


@dataclass(frozen=True)
class Decision:
    """Assignments in task input order, the tasks left unassigned with their reason,
    the objective (assigned costs plus leave costs) and the path that solved it."""

    assignments: tuple[Assignment, ...]
    unassigned: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    objective: float = 0.0
    path: str = "exact"
    #: City decisions with ``held``: the whole stop order, afterwards, of every courier
    #: given an order (:func:`jarvis.models.stops.planned_stops`), by courier id.
    routes: Mapping[str, tuple[Stop, ...]] = field(default_factory=lambda: MappingProxyType({}))


def decide(
    problem: Problem, large: bool = False, area_tasks: int = 250, margin_km: float = 2.0
) -> Decision:
    """Solve ``problem`` exactly, or by areas when ``large`` (it must then be spatial)."""
    n_tasks = len(problem.task_ids)
    if large:
        if not isinstance(problem, CityProblem):  # the only problem with positions
            raise DispatchError("the large-partition path needs task and worker positions")
        result = solve_large(problem, area_tasks, margin_km)
        tasks, workers, reduced = result.tasks, result.workers, result.reduced
        eligible_any, useful_any = result.eligible_any, result.useful_any
    elif (
        isinstance(problem, CityProblem) and prunable(problem) and (pruned := solve_pruned(problem))
    ):
        tasks, workers, reduced = pruned.tasks, pruned.workers, pruned.reduced
        eligible_any, useful_any = pruned.eligible_any, pruned.useful_any
    else:
        block = problem.block(None, None)
        prepared = prepare(block.reduced, problem.slots)
        tasks, workers = solve_prepared(prepared)
        eligible_any, useful_any = block.eligible_any, prepared.useful_any
        reduced = block.reduced[tasks, workers]
    return _decode(problem, tasks, workers, reduced, eligible_any, useful_any, n_tasks, large)


def _decode(
    problem: Problem,
    tasks: IntArray,
    workers: IntArray,
    reduced: FloatArray,
    eligible_any: BoolArray,
    useful_any: BoolArray,
    n_tasks: int,
    large: bool,
) -> Decision:
    leave = problem.leave
    order = np.argsort(tasks, kind="stable")
    tasks, workers, reduced = tasks[order], workers[order], reduced[order]
    cost = leave[tasks] + reduced
    task_ids, worker_ids = problem.task_ids, problem.worker_ids
    assignments = tuple(
        Assignment(task_ids[t], worker_ids[w], float(c))
        for t, w, c in zip(tasks.tolist(), workers.tolist(), cost.tolist(), strict=True)
    )
    assigned = np.zeros(n_tasks, bool)
    assigned[tasks] = True
    unassigned: dict[str, str] = {}
    for t in np.flatnonzero(~assigned).tolist():
        if not eligible_any[t]:
            unassigned[task_ids[t]] = NO_ELIGIBLE_WORKER
        elif not useful_any[t]:
            unassigned[task_ids[t]] = CHEAPER_TO_WAIT
        else:
            unassigned[task_ids[t]] = NO_FREE_CAPACITY
    objective = float(leave.sum() + reduced.sum())
    return Decision(
        assignments, MappingProxyType(unassigned), objective, "large" if large else "exact"
    )


def uses_large_path(n_tasks: int, n_slots: int, config: CityConfig) -> bool:
    """Whether a city of that size is solved by areas (see :mod:`jarvis.models.large`)."""
    side = config.large_min_side
    return side > 0 and min(n_tasks, n_slots) >= side


def decide_city(
    orders: Sequence[Order],
    couriers: Sequence[Courier],
    now: float,
    config: CityConfig = CityConfig(),  # noqa: B008 - frozen, immutable default
    rules: Rules | None = None,
    estimator: EtaEstimator | None = None,
    *,
    path: str | None = None,
    held: Mapping[str, Sequence[HeldOrder]] | None = None,
    declines: Sequence[tuple[str, str, float]] = (),
) -> Decision:
    """Decide one city tick. ``Courier.capacity`` is the courier's free capacity.

    ``held`` maps a courier id to the orders it holds: such a courier is costed by the
    cheapest insertion into its planned route (:mod:`jarvis.models.routes`).
    ``declines`` holds (order id, courier id, when): the pair is ineligible until
    ``config.decline_cooldown_s`` after it.

    Offline couriers are never assigned. ``path`` forces ``"exact"`` or ``"large"``;
    by default the large-partition path is chosen from the size (``uses_large_path``).
    """
    problem = CityProblem(orders, couriers, now, config, rules, estimator, held, declines)
    if path not in (None, "exact", "large"):
        raise DispatchError(f"path must be 'exact' or 'large', got {path!r}")
    n_slots = int(problem.slots.sum())
    large = (
        uses_large_path(len(problem.task_ids), n_slots, config) if path is None else path == "large"
    )
    if not problem.task_ids or not problem.worker_ids:
        large = False
    bundles: dict[int, Bundle] = {}
    if config.bundle_pickup_km > 0 and not large:
        decision, bundles = _decide_bundled(problem)
    else:
        decision = decide(problem, large, config.area_tasks, config.area_margin_km)
    if held is not None and decision.assignments:
        task_at = {t: i for i, t in enumerate(problem.task_ids)}
        worker_at = {w: i for i, w in enumerate(problem.worker_ids)}
        pairs = [(task_at[a.task], worker_at[a.worker]) for a in decision.assignments]
        routes = planned_stops(problem, held, pairs, bundles)
        decision = replace(decision, routes=MappingProxyType(routes))
    log.debug(
        "city decision: %d orders, %d couriers, %d assigned, path %s",
        len(problem.task_ids),
        len(problem.worker_ids),
        len(decision.assignments),
        decision.path,
    )
    return decision


def decide_bundled(problem: CityProblem) -> Decision:
    """Bundle, then assign (see :mod:`jarvis.models.bundles`): each courier takes one
    order or one bundle; bundled orders left over go one by one to couriers left free."""
    return _decide_bundled(problem)[0]


def _decide_bundled(problem: CityProblem) -> tuple[Decision, dict[int, Bundle]]:
    """:func:`decide_bundled`, and the bundle each courier (worker index) took."""
    taken: dict[int, Bundle] = {}
    bundled = BundleProblem(problem, find_bundles(problem))
    block = bundled.block(None, None)
    prepared = prepare(block.reduced, bundled.slots)
    rows, workers = solve_prepared(prepared)
    chosen: list[tuple[int, int, float]] = []  # (task, worker, cost)
    for row, w in zip(rows.tolist(), workers.tolist(), strict=True):
        members = bundled.members(row)
        if len(members) == 1:
            chosen.append((members[0], w, float(problem.leave[members[0]] + block.reduced[row, w])))
            continue
        bundle = bundled.bundles[row - len(bundled.singles)]
        taken[w] = bundle
        _, c1, c2 = bundled.bundle_costs([bundle], np.array([w], np.intp))
        chosen.append((bundle.drop_first, w, float(c1[0, 0])))
        chosen.append((bundle.drop_second, w, float(c2[0, 0])))
    reasons: dict[int, str] = {}
    for row in np.setdiff1d(np.arange(len(bundled.task_ids)), rows).tolist():
        reason = _reason(bool(block.eligible_any[row]), bool(prepared.useful_any[row]))
        for t in bundled.members(row):
            reasons[t] = reason
    singles = set(bundled.singles.tolist())
    left = np.array(sorted(t for t in reasons if t not in singles), np.intp)
    free = np.setdiff1d(np.arange(len(problem.worker_ids)), workers)
    if len(left) and len(free):
        again = problem.block(left, free)
        prepared = prepare(again.reduced, np.ones(len(free), np.intp))
        t2, w2 = solve_prepared(prepared)
        for t, w in zip(t2.tolist(), w2.tolist(), strict=True):
            task, worker = int(left[t]), int(free[w])
            chosen.append((task, worker, float(problem.leave[task] + again.reduced[t, w])))
            del reasons[task]
        for t in range(len(left)):
            if int(left[t]) in reasons:
                reasons[int(left[t])] = _reason(
                    bool(again.eligible_any[t]), bool(prepared.useful_any[t])
                )
    chosen.sort()
    task_ids, worker_ids = problem.task_ids, problem.worker_ids
    assignments = tuple(Assignment(task_ids[t], worker_ids[w], c) for t, w, c in chosen)
    unassigned = {task_ids[t]: reasons[t] for t in sorted(reasons)}
    objective = sum(c for _, _, c in chosen) + float(problem.leave[sorted(reasons)].sum())
    return Decision(assignments, MappingProxyType(unassigned), objective, "bundled"), taken


def _reason(eligible_any: bool, useful_any: bool) -> str:
    if not eligible_any:
        return NO_ELIGIBLE_WORKER
    return CHEAPER_TO_WAIT if not useful_any else NO_FREE_CAPACITY


def decide_store(
    items: Sequence[WorkItem],
    associates: Sequence[Associate],
    now: float,
    config: StoreConfig = StoreConfig(),  # noqa: B008 - frozen, immutable default
    rules: Rules | None = None,
) -> Decision:
    """Decide one batch of store work (each associate gets ``items_per_associate``)."""
    return decide(StoreProblem(items, associates, now, config, rules))
