"""The exact city decision without the dense matrix, when couriers outnumber orders.

With many more couriers than orders, nearly every courier is useful to some order (the
union of each order's nearest couriers covers most of the city), so dropping columns of
the dense matrix does not shrink the solve. This path never builds that matrix:

1. *Candidates.* For each order and each vehicle, its ``k`` nearest couriers of that
   vehicle (a k-d tree per vehicle), costed pair by pair: :data:`PER_FASTEST` of the
   fastest vehicle, :data:`PER_SLOWER` of the next, :data:`PER_SLOWEST` of each slower
   one (bikes, where there are cars and scooters: the same rounds on seeds 1-8 of the
   bench at both sizes as with 3, and a tenth less time). The ride to the customer
   costs more on a slower vehicle whatever its distance, so an order takes a slower
   courier only near it or when the fast ones are taken (measured at 500 x 2,000: of
   the 16 nearest of each vehicle, orders used about 92 % cars, 8 % scooters, under
   1 % bikes, and no scooter or bike beyond the second nearest mattered to the bound;
   cars up to the 16th and beyond). An order ready now sees only
   :data:`PER_FASTEST_READY` of the fastest: the couriers near an order not ready yet
   all cost the same (it waits for whichever comes), so its check fails, whatever the
   prices, unless it sees every courier within that radius; an order ready now has no
   such radius.
2. *Bound.* With the straight-line estimator the reduced cost of an order with a free
   courier of a given vehicle only grows with the distance between them (ineligible
   pairs are 0, above every useful one), and a courier with a route never costs less
   than a free one at its position. So the ``k + 1``-th nearest courier of each vehicle
   gives a lower bound ``bound[t]`` of every pair of order ``t`` left out.
3. *Solve* the candidate pairs as a sparse assignment problem
   (``scipy.sparse.csgraph.min_weight_full_bipartite_matching``), each courier with one
   column per usable slot. Its LAPJVsp scans every column at each step, so the first
   solve gives every order with a useful candidate a courier, without the private
   "leave it" column of cost 0 each order may need (a fifth of the columns at 500 x
   2,000): the certificate below proves that leaving no order would have paid, and when
   it cannot (or no such matching exists) the solve is repeated with those columns.
4. *Certificate.* From the optimal matching, dual prices are computed exactly: with
   ``p[t]`` the shortest-path distance from order ``t`` to "a free column" in the graph
   of alternating moves (Bellman-Ford; every cycle is non-negative because the matching
   is optimal), ``u[t] = cost[t] + p[t]`` and ``v = -p`` on used columns, 0 elsewhere, is
   feasible for the dual of the candidate problem. Extended with ``v = 0`` on every
   pair left out, it stays feasible for the whole problem when ``u[t] <= bound[t]`` for
   every order (``v <= 0``), and then, by weak duality, the candidate optimum is the
   optimum of the whole problem: no order needs a courier it did not see.
5. Orders whose check fails see twice as many couriers of every vehicle (:data:`GROWTH`;
   four times cost more at 500 x 2,000 and 1,000 x 4,000), and the solve runs again; a
   problem that is still not certified after a few rounds, or where many orders crowd
   around few couriers (:data:`GIVE_UP_SHARE`), goes to the dense path.

The result is exact (same objective as the dense solve; among equally cheap matchings
it may pick another one). Used only with the straight-line estimator, without
``candidates_per_order``, and when the couriers' slots are at least
:data:`PRUNE_FROM_SLOTS` times the orders.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from jarvis.models.candidates import (
    COSTED_BELOW_FREE,
    PER_FASTEST_READY_SHARE,
    Candidates,
    CandidateTable,
    candidate_costs,
)
from jarvis.models.problem import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    from jarvis.models.city_problem import CityProblem

__all__ = [
    "PER_FASTEST",
    "PER_SLOWER",
    "PER_SLOWEST",
    "PRUNE_FROM_SLOTS",
    "PrunedResult",
    "solve_pruned",
]

log = logging.getLogger(__name__)

#: Nearest couriers of the fastest vehicle every order sees in the first round.
PER_FASTEST = 32
#: ... and of those an order ready now sees (see :meth:`Candidates.nearest`).
PER_FASTEST_READY = int(PER_FASTEST * PER_FASTEST_READY_SHARE)
#: Nearest couriers of the next fastest vehicle every order sees in the first round.
PER_SLOWER = 3
#: ... and of each slower one (bikes where cars and scooters ride: under 1 % of the
#: assignments at 500 x 2,000, and farther from the bound than scooters).
PER_SLOWEST = 1
#: The path is taken when the couriers' free slots are at least this many times the orders.
PRUNE_FROM_SLOTS = 2
#: Rounds (the candidates of an order whose check failed grow :data:`GROWTH` times a round).
ROUNDS = 3
#: The dense path takes over when more than this share of the orders is still in doubt
#: after a round, or the candidate pairs would exceed this share of the dense matrix.
GIVE_UP_SHARE = 0.2
#: How many times more couriers an order whose check failed sees in the next round.
GROWTH = 2
#: Solves repeated because a deferred route pair, costed, broke the certificate (see
#: :mod:`jarvis.models.candidates`); the next settles every deferred pair.
SETTLES = 3


@dataclass(frozen=True)
class PrunedResult:
    """Assigned (task, worker) index pairs with their reduced costs, and per task whether
    it had an eligible worker and a useful one (as :class:`jarvis.models.problem.Block`
    and :func:`jarvis.models.assign.prepare` say for the dense path)."""

    tasks: IntArray
    workers: IntArray
    reduced: FloatArray
    eligible_any: BoolArray
    useful_any: BoolArray
    rounds: int


def prunable(problem: CityProblem) -> bool:
    """Whether :func:`solve_pruned` applies to ``problem`` and is worth it."""
    n_tasks, n_workers = len(problem.task_ids), len(problem.worker_ids)
    types = len(np.unique(problem.vehicle))
    return (
        problem.straight_line is not None
        and problem.config.candidates_per_order == 0
        and n_tasks > 0
        and n_workers > 4 * (PER_FASTEST + PER_SLOWER * (types - 1))
        and int(problem.slots.sum()) >= PRUNE_FROM_SLOTS * n_tasks
    )


def solve_pruned(
    problem: CityProblem,
    per_fastest: int = PER_FASTEST,
    give_up: float = GIVE_UP_SHARE,
    per_slower: int = PER_SLOWER,
    per_slowest: int = PER_SLOWEST,
    costed_below_free: int = COSTED_BELOW_FREE,
) -> PrunedResult | None:
    """The exact decision from candidate pairs, or ``None`` when it cannot be certified
    or would not pay (the caller then solves the dense problem). With ``give_up`` infinite
    it never gives up: the rounds go on until every order in doubt sees every courier,
    where the check cannot fail. ``costed_below_free``: which pairs with a route are
    costed before the solve (:data:`jarvis.models.candidates.COSTED_BELOW_FREE`)."""
    n_tasks = len(problem.task_ids)
    dense = n_tasks * len(problem.worker_ids)
    candidates = Candidates(problem)
    table = CandidateTable(problem, costed_below_free)
    ks = (per_fastest, per_slower, per_slowest)
    rows = np.arange(n_tasks)
    table.set(rows, *candidates.nearest(rows, ks))
    rounds = ROUNDS if math.isfinite(give_up) else ROUNDS + len(problem.worker_ids)
    round_, settles = 1, 0
    while True:
        tasks, workers, cost, duals = _solve(problem, table.worker, table.reduced)
        if duals is None:
            log.debug("pruned decision: no dual certificate (round %d), dense path", round_)
            return None
        u, price = duals
        # deferred route pairs that could break the certificate, costed by route; if one
        # does, it joins the next solve (after SETTLES such solves, every deferred pair:
        # bounded), with the orders widened below if any
        again = table.settle(u, price, every=settles >= SETTLES)
        settles += again
        eligible_any: BoolArray = np.asarray(table.eligible.any(axis=1))
        failed = u > table.bound
        if problem.declined:  # a declined candidate may hide an eligible courier beyond it
            failed |= ~eligible_any & table.other_eligible
        rows = np.flatnonzero(failed)
        if len(rows):
            # look further for those orders: the dual prices stay feasible if every pair
            # of them, at its courier's price (a deferred one at its lower bound), and
            # the bound beyond, stay above u
            ks = (GROWTH * ks[0], GROWTH * ks[1], GROWTH * ks[2])
            near, distance, far, far_eligible = candidates.nearest(rows, ks)
            reduced, ineligible, lower, deferred = candidate_costs(
                problem, rows, near, distance, costed_below_free
            )
            # a deferred pair whose bound does not clear u is costed by route here: its
            # bound alone would put the order back into the solve
            doubt = deferred & (lower + price[np.maximum(near, 0)] < u[rows, None])
            if doubt.any():
                r, c = np.nonzero(doubt)
                reduced[r, c] = problem.route_pairs(rows[r], near[r, c])
                deferred &= ~doubt
            seen = ~ineligible
            at_price = np.where(deferred, lower, reduced) + np.where(near >= 0, price[near], np.inf)
            below = (at_price < u[rows, None]).any(axis=1) | (u[rows] > far)
            if problem.declined:
                below |= ~(eligible_any[rows] | seen.any(axis=1)) & far_eligible
            table.other_eligible[rows] = seen.any(axis=1) | far_eligible
            table.other_useful[rows] = (reduced < 0.0).any(axis=1)
            rows = rows[below]
            if len(rows):
                if round_ == rounds:
                    log.debug("pruned decision: not certified after %d rounds, dense path", rounds)
                    return None
                pairs = len(rows) * near.shape[1] + (n_tasks - len(rows)) * table.worker.shape[1]
                if len(rows) > give_up * n_tasks or pairs > give_up * dense:
                    # orders crowded around few couriers: the candidates would grow
                    # towards the whole matrix, which the dense path solves faster
                    log.debug("pruned decision: %d orders in doubt, dense path", len(rows))
                    return None
                table.set(rows, near[below], distance[below], far[below], far_eligible[below])
                round_ += 1
                continue
        if again:
            continue
        log.debug(
            "pruned decision: %d candidate pairs, certified in round %d", table.reduced.size, round_
        )
        useful_any = np.asarray((table.reduced < 0.0).any(axis=1)) | table.other_useful
        if problem.routes:
            _settle_useful(problem, tasks, eligible_any | table.other_eligible, useful_any)
        return PrunedResult(
            tasks, workers, cost, eligible_any | table.other_eligible, useful_any, round_
        )


def _settle_useful(
    problem: CityProblem, tasks: IntArray, eligible_any: BoolArray, useful_any: BoolArray
) -> None:
    """Whether an order left unassigned had a useful pair, where only a deferred pair
    (never costed by route) could say so: from its whole row of the dense block (in
    place; such orders are few where couriers outnumber orders)."""
    doubt = ~useful_any & eligible_any
    doubt[tasks] = False
    rows = np.flatnonzero(doubt)
    if len(rows):
        useful_any[rows] = (problem.block(rows, None).reduced < 0.0).any(axis=1)


def _solve(
    problem: CityProblem, worker: IntArray, reduced: FloatArray
) -> tuple[IntArray, IntArray, FloatArray, tuple[FloatArray, FloatArray] | None]:
    """The optimal matching of the useful candidate pairs (``reduced < 0``; ``worker``
    and ``reduced`` hold one row per task), each worker up to its slots, each task
    possibly left (cost 0); with the least dual prices ``u`` of the tasks and the price
    of each worker (what taking it from the tasks holding it costs them; 0 while it has a
    free slot), or ``None`` when they cannot be computed exactly."""
    n_tasks, n_workers = len(problem.task_ids), len(problem.worker_ids)
    useful = reduced < 0.0
    per_task = np.count_nonzero(useful, axis=1)
    w, cost = worker[useful], reduced[useful]  # row-major: tasks in order
    empty = np.zeros(0, np.intp)
    if len(w) == 0:
        return empty, empty, np.zeros(0), (np.zeros(n_tasks), np.zeros(n_workers))
    t = np.repeat(np.arange(n_tasks), per_task)
    # one column per usable slot of each worker (never more than the tasks it is useful
    # for); each task's row: its pairs with every slot of their worker, then "leave"
    usable = np.minimum(problem.slots, np.bincount(w, minlength=n_workers))
    first_col = np.cumsum(usable) - usable
    n_cols = int(usable.sum())
    if not (usable > 1).any():  # one slot each: no pair to repeat
        rows, col, edge_cost, per_row = t, first_col[w], cost, per_task
    else:
        copies = usable[w]
        rep = np.repeat(np.arange(len(t)), copies)
        within = np.arange(len(rep)) - np.repeat(np.cumsum(copies) - copies, copies)
        rows, col, edge_cost = t[rep], first_col[w[rep]] + within, cost[rep]
        per_row = np.bincount(rows, minlength=n_tasks)
    shift = float(cost.min()) - 1.0  # every weight > 0: the solver ignores zeros
    weight = edge_cost - shift
    # First every task with a useful pair must take one (no "leave" columns: a fifth
    # fewer columns, and the solver's time grows with them); the duals then show whether
    # leaving some task would have paid, and only then is the solve repeated with them.
    for leave in (False, True):
        found = _match(rows, col, weight, per_row, n_cols, -shift if leave else None)
        if found is None:
            continue
        sel, c = found
        chosen = np.repeat(np.arange(n_workers), usable)[c]
        owner = np.full(n_cols, -1, np.intp)
        owner[c] = sel
        # the chosen pair's cost, found in the task's row of candidates
        hit = (worker[sel] == chosen[:, None]) & useful[sel]
        assigned = np.full(n_tasks, np.nan)
        assigned[sel] = reduced[sel, hit.argmax(axis=1)]
        p = _duals(n_tasks, rows, col, edge_cost, owner, assigned)
        if p is None:
            if leave:
                return sel, chosen, assigned[sel], None
            continue
        u = np.where(np.isnan(assigned), 0.0, assigned + p)
        # a worker's price: the least over its slots (an unused or unbuilt slot is free)
        column_price = np.where(owner >= 0, p[np.maximum(owner, 0)], 0.0)
        price = np.zeros(n_workers)
        full = usable > 0
        price[full] = np.minimum.reduceat(column_price, first_col[full])
        price[usable < problem.slots] = 0.0
        return sel, chosen, assigned[sel], (u, price)
    raise AssertionError("unreachable: the solve with leave columns always matches")


def _match(
    rows: IntArray,
    col: IntArray,
    weight: FloatArray,
    per_row: IntArray,
    n_cols: int,
    leave: float | None,
) -> tuple[IntArray, IntArray] | None:
    """A minimum-weight matching of the pairs (``rows`` ascending, ``weight > 0``) that
    gives every task with a pair a column: with ``leave``, each task also has a private
    "leave" column of that weight (always possible); without, ``None`` when no such
    matching exists. Returns the tasks matched to a worker's column, and those columns."""
    n_tasks = len(per_row)
    if leave is not None:
        indptr = np.zeros(n_tasks + 1, np.intp)
        np.cumsum(per_row + 1, out=indptr[1:])
        data = np.full(int(indptr[-1]), leave)  # the "leave" entries keep this value
        indices = np.empty(int(indptr[-1]), np.intp)
        indices[indptr[1:] - 1] = n_cols + np.arange(n_tasks)  # each row's last: "leave"
        at = np.arange(len(rows)) + rows
        data[at] = weight
        indices[at] = col
        graph = csr_matrix((data, indices, indptr), shape=(n_tasks, n_cols + n_tasks))
        r, c = min_weight_full_bipartite_matching(graph)
        matched = c < n_cols
        return r[matched], c[matched]
    active = np.flatnonzero(per_row)
    if len(active) > n_cols:
        return None
    indptr = np.zeros(len(active) + 1, np.intp)
    np.cumsum(per_row[active], out=indptr[1:])
    graph = csr_matrix((weight, col, indptr), shape=(len(active), n_cols))
    try:
        r, c = min_weight_full_bipartite_matching(graph)
    except ValueError:  # no matching gives every such task a worker
        return None
    return active[r], c


def _duals(
    n_tasks: int,
    rows: IntArray,
    cols: IntArray,
    cost: FloatArray,
    owner: IntArray,
    assigned: FloatArray,
) -> FloatArray | None:
    """The least prices ``p`` of the columns the tasks of an optimal matching hold (see
    the module docstring), or ``None`` if they do not converge or are not feasible.
    ``rows`` (the task of each pair) ascend.

    With ``p >= 0`` the price of each used column (``v = -p``): a matched task ``i`` on
    column ``c(i)`` has ``u[i] = cost(i, c(i)) + p[i]``, and every pair ``(i, j)`` of a
    column used by ``k`` asks ``p[k] >= p[i] - (cost(i, j) - cost(i, c(i)))``; a task left
    (``u = 0``) asks ``p[k] >= -cost(i, j)``. The least ``p`` meeting every lower bound is
    a longest-path fixpoint (Bellman-Ford); it must then meet the upper bounds: moving a
    task to a free column or leaving it never pays (``p[i] <= cost(i, j) - cost(i, c(i))``
    and ``p[i] <= -cost(i, c(i))``), which an optimal matching guarantees.
    """
    matched = ~np.isnan(assigned)
    base = np.where(matched, assigned, 0.0)
    target = owner[cols]
    used = target >= 0
    # upper bounds: leaving a task, or moving it to a free column, never pays
    upper = np.where(matched, -base, np.inf)
    free_col = ~used & matched[rows]
    if free_col.any():  # ``rows`` ascend: a segmented min per task
        moves = np.where(free_col, cost - base[rows], np.inf)
        starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
        tasks = rows[starts]
        upper[tasks] = np.minimum(upper[tasks], np.minimum.reduceat(moves, starts))
    if (upper[matched] < 0.0).any() or (~matched[rows] & ~used & (cost < 0.0)).any():
        return None
    # lower bounds from tasks left unassigned: 0 - p[owner] <= cost
    free_row = used & ~matched[rows]
    p = np.zeros(n_tasks)
    np.maximum.at(p, target[free_row], -cost[free_row])
    # p[target] >= p[row] - slack between matched tasks; an edge whose slack is at least
    # the row's upper bound can never raise its target above 0
    edge = used & matched[rows] & (target != rows)
    src, dst = rows[edge], target[edge]
    slack = cost[edge] - base[src]
    binding = slack < upper[src]
    # edges grouped by target once, so each pass is one gather and one segmented max
    # (16-bit keys where they fit: numpy sorts those by radix, several times faster)
    key = dst[binding]
    by_dst = np.argsort(key.astype(np.int16) if n_tasks < 2**15 else key, kind="stable")
    src, dst, slack = src[binding][by_dst], dst[binding][by_dst], slack[binding][by_dst]
    if len(dst):
        starts = np.flatnonzero(np.concatenate([[True], dst[1:] != dst[:-1]]))
        targets = dst[starts]
        for _ in range(n_tasks + 2):
            best = np.maximum.reduceat(p[src] - slack, starts)
            raised = best > p[targets]
            if not raised.any():
                break
            p[targets[raised]] = best[raised]
        else:
            return None
    if (p > upper).any():
        return None
    return p
