"""The large-partition path: solve a big city area by area, then reconcile.

One dense assignment problem over thousands of orders and thousands of couriers is
slow (the exact solve of 4,000 x 4,000 takes seconds), although a good answer only
ever pairs an order with a courier nearby. This path:

1. splits the orders into about ``n / area_tasks`` areas of equal count (by x, then
   by y, at quantiles, so dense districts get small areas);
2. solves each area exactly against the couriers inside its bounding box grown by
   ``margin_km`` (areas overlap by the margin, so couriers near a border are seen by
   both sides);
3. reconciles: a courier proposed by several areas keeps the proposals with the lowest
   reduced cost, up to its free slots;
4. repairs: every order still unassigned is solved again, exactly, against every
   courier with a free slot left, wherever it is.

The result never breaks a rule (every pair comes from ``Problem.block``) nor a
capacity; it may cost a little more than the exact optimum.

When it is chosen: when both the orders and the couriers' free slots number at least
``CityConfig.large_min_side`` (default 1,500). Measured with ``python -m bench
bench_solver`` on 2 shared cores (random points in a 20 km city, drop-offs within 3 km,
about half the pairs ineligible or not worth assigning, default leave-unassigned cost):

=========  ========  ========  ========  ===============  ============
per side   exact     large     speed-up  objective        matches lost
=========  ========  ========  ========  ===============  ============
500        76 ms     132 ms    0.6x      +0.0 %           0 %
1,000      258 ms    98 ms     2.6x      +4.6 %           1.7 %
2,000      2.5 s     0.23 s    11x       +0.7 to +2.3 %   0.2-0.7 %
4,000      34 s      0.98 s    34x       +0.2 %           0 %
=========  ========  ========  ========  ===============  ============

Up to about 1,000 per side the exact solve fits comfortably in a one-second tick and
the areas are too few to be independent (4.6 % worse at 1,000), so exact wins. From
about 2,000 per side the exact solve no longer fits in a tick (2.5-4.5 s here) while
the areas cost a quarter of a second; the threshold sits between the two. Rectangular
instances stay exact until their short side reaches it: the solver is fast on them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from jarvis.models.assign import prepare, solve_prepared
from jarvis.models.problem import BoolArray, FloatArray, IntArray, Problem

__all__ = ["LargeResult", "SpatialProblem", "solve_large"]

log = logging.getLogger(__name__)

#: Improvement passes after the first solve: (axis cut first, extra strips).
IMPROVE_PASSES: list[tuple[int, int]] = [(1, 0), (0, 1)]


class SpatialProblem(Problem, Protocol):
    """A problem whose tasks and workers have positions on a plane, in km."""

    @property
    def task_xy(self) -> FloatArray: ...

    @property
    def worker_xy(self) -> FloatArray: ...


@dataclass(frozen=True)
class LargeResult:
    """Assigned (task, worker) index pairs, and per task what the areas saw."""

    tasks: IntArray
    workers: IntArray
    reduced: FloatArray  # per pair
    eligible_any: BoolArray
    useful_any: BoolArray
    areas: int


def areas(
    task_xy: FloatArray, area_tasks: int, first_axis: int = 0, extra: int = 0
) -> list[IntArray]:
    """Split task indices into about ``len / area_tasks`` areas of equal count: strips
    along ``first_axis`` at quantiles, each strip cut along the other axis. ``extra``
    more strips and cuts move every border (for the improvement passes)."""
    n = len(task_xy)
    side = max(1, round(float(np.sqrt(n / area_tasks)))) + extra
    other = 1 - first_axis
    out: list[IntArray] = []
    by_first = np.argsort(task_xy[:, first_axis], kind="stable")
    for strip in np.array_split(by_first, side):
        by_other = strip[np.argsort(task_xy[strip, other], kind="stable")]
        out.extend(cell for cell in np.array_split(by_other, side) if len(cell))
    return out


def solve_large(problem: SpatialProblem, area_tasks: int, margin_km: float) -> LargeResult:
    """Assign by overlapping areas, reconcile shared workers, repair the rest."""
    n_tasks, n_workers = len(problem.task_ids), len(problem.worker_ids)
    task_xy, worker_xy = problem.task_xy, problem.worker_xy
    slots = problem.slots
    eligible_any = np.zeros(n_tasks, bool)
    useful_any = np.zeros(n_tasks, bool)
    prop_t: list[IntArray] = []
    prop_w: list[IntArray] = []
    prop_r: list[FloatArray] = []
    cells = areas(task_xy, area_tasks)
    for cell in cells:
        lo = task_xy[cell].min(axis=0) - margin_km
        hi = task_xy[cell].max(axis=0) + margin_km
        inside = np.flatnonzero(((worker_xy >= lo) & (worker_xy <= hi)).all(axis=1))
        if len(inside) == 0:
            continue
        block = problem.block(cell, inside)
        prepared = prepare(block.reduced, slots[inside])
        eligible_any[cell] |= block.eligible_any
        useful_any[cell] |= prepared.useful_any
        r, c = solve_prepared(prepared)
        prop_t.append(cell[r])
        prop_w.append(inside[c])
        prop_r.append(block.reduced[r, c])

    tasks, workers, reduced = _reconcile(prop_t, prop_w, prop_r, slots)
    left_slots = slots - np.bincount(workers, minlength=n_workers)
    assigned = np.zeros(n_tasks, bool)
    assigned[tasks] = True
    left_tasks = np.flatnonzero(~assigned)
    free = np.flatnonzero(left_slots > 0)
    log.debug(
        "large path: %d areas, %d tasks and %d workers left to repair",
        len(cells),
        len(left_tasks),
        len(free),
    )
    if len(left_tasks) and len(free):
        block = problem.block(left_tasks, free)
        prepared = prepare(block.reduced, left_slots[free])
        eligible_any[left_tasks] |= block.eligible_any
        useful_any[left_tasks] |= prepared.useful_any
        r, c = solve_prepared(prepared)
        tasks = np.concatenate([tasks, left_tasks[r]])
        workers = np.concatenate([workers, free[c]])
        reduced = np.concatenate([reduced, block.reduced[r, c]])

    state = _State(n_tasks, n_workers)
    state.set(tasks, workers, reduced)
    for first_axis, extra in IMPROVE_PASSES:
        for window in areas(task_xy, area_tasks, first_axis, extra):
            _improve(problem, state, window, margin_km)
    tasks, workers, reduced = state.pairs()
    return LargeResult(tasks, workers, reduced, eligible_any, useful_any, len(cells))


class _State:
    """The current assignment: per task its worker (or -1) and reduced cost."""

    def __init__(self, n_tasks: int, n_workers: int) -> None:
        self.worker = np.full(n_tasks, -1, np.intp)
        self.reduced = np.zeros(n_tasks)
        self.load = np.zeros(n_workers, np.intp)

    def set(self, tasks: IntArray, workers: IntArray, reduced: FloatArray) -> None:
        self.worker[tasks] = workers
        self.reduced[tasks] = reduced
        np.add.at(self.load, workers, 1)

    def pairs(self) -> tuple[IntArray, IntArray, FloatArray]:
        tasks = np.flatnonzero(self.worker >= 0)
        return tasks, self.worker[tasks], self.reduced[tasks]


def _improve(problem: SpatialProblem, state: _State, window: IntArray, margin_km: float) -> None:
    """Re-solve ``window``'s tasks exactly against the workers around them (and those
    they hold), keeping every other assignment: the objective can only go down."""
    task_xy, worker_xy = problem.task_xy, problem.worker_xy
    lo = task_xy[window].min(axis=0) - margin_km
    hi = task_xy[window].max(axis=0) + margin_km
    inside = np.flatnonzero(((worker_xy >= lo) & (worker_xy <= hi)).all(axis=1))
    held = state.worker[window]
    held = held[held >= 0]
    workers = np.union1d(inside, held)
    if len(workers) == 0:
        return
    own = np.zeros(len(state.load), np.intp)
    np.add.at(own, held, 1)
    available = problem.slots[workers] - state.load[workers] + own[workers]
    block = problem.block(window, workers)
    r, c = solve_prepared(prepare(block.reduced, available))
    state.load -= own
    state.worker[window] = -1
    state.reduced[window] = 0.0
    state.set(window[r], workers[c], block.reduced[r, c])


def _reconcile(
    prop_t: list[IntArray], prop_w: list[IntArray], prop_r: list[FloatArray], slots: IntArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Keep, per worker, its ``slots`` proposals with the lowest reduced cost."""
    if not prop_t:
        empty = np.zeros(0, np.intp)
        return empty, empty, np.zeros(0)
    t, w, r = np.concatenate(prop_t), np.concatenate(prop_w), np.concatenate(prop_r)
    order = np.lexsort((t, r, w))  # by worker, then cheapest first, ties by task
    t, w, r = t[order], w[order], r[order]
    start = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])
    rank = np.arange(len(w)) - np.repeat(start, np.diff(np.r_[start, len(w)]))
    keep = rank < slots[w]
    return t[keep], w[keep], r[keep]
