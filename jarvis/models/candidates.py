"""The candidate pairs of the pruned city decision (:mod:`jarvis.models.pruned`).

Each order's nearest couriers of each vehicle (:class:`Candidates`, a k-d tree per
vehicle) with the lower bound of every courier farther away, held row by row in a
:class:`CandidateTable` with their reduced costs.

*Routes are costed lazily.* A courier who holds a route costs an order its cheapest
insertion into that route, which is dear to compute (one numpy pass per stop and
insertion place), and never less than what the same courier would cost free at its
position (:meth:`~jarvis.models.city_problem.CityProblem.block` relies on the same
triangle inequality). So a pair with a route is costed by route only where that lower
bound beats the order's third cheapest free candidate (:data:`COSTED_BELOW_FREE`); the
others are *deferred*: out of the
solve, their lower bound kept. After each solve, :meth:`CandidateTable.settle` costs by
route the deferred pairs whose lower bound, at the courier's dual price, is below the
order's dual value (the only ones that could break the certificate); if an exact cost
then does break it, the pair joins the solve and the solve runs again. A deferred pair
that passes the check with its lower bound passes it with its exact cost, so the
certificate of :mod:`jarvis.models.pruned` stays a proof. At 500 x 2,000 with half the
couriers holding an order (seed 7), about 800 of 7,000 useful pairs with a route are
costed before the solve, and none after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from jarvis.models.city_costs import distance_bound, free_pairs
from jarvis.models.problem import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    from jarvis.models.city_problem import CityProblem

__all__ = ["PER_FASTEST_READY_SHARE", "CandidateTable", "Candidates", "candidate_costs"]

#: An order ready now sees this share of the fastest vehicle's nearest couriers (see
#: :meth:`Candidates.nearest`).
PER_FASTEST_READY_SHARE = 0.25
#: A pair with a route is costed before the solve where its lower bound beats the
#: order's this-many-th cheapest free candidate (1: the cheapest). With the cheapest
#: alone, a small city where couriers with routes compete (200 x 400, half of them
#: holding an order) needed 3-4 solves instead of 2; at 500 x 2,000 it makes no
#: difference beyond the machine's noise (seeds 1-8, median CPU of 5 alternating calls).
COSTED_BELOW_FREE = 3


class Candidates:
    """Per order, its nearest couriers of each vehicle, and the bound of the others."""

    def __init__(self, problem: CityProblem) -> None:
        self.problem = problem
        #: per vehicle present: its code, its couriers, their tree, and its speed's rank
        #: (0: the fastest present, 1: the next, 2: any slower one)
        self.trees: list[tuple[int, IntArray, cKDTree, int]] = []
        codes = np.unique(problem.vehicle)
        speed = np.asarray(problem.straight_line)[codes]  # seconds per km
        ranks = np.unique(speed).tolist()
        for code, s_per_km in zip(codes.tolist(), speed.tolist(), strict=True):
            members = np.flatnonzero(problem.vehicle == code)
            rank = min(ranks.index(s_per_km), 2)
            self.trees.append((code, members, cKDTree(problem.worker_xy[members]), rank))

    def nearest(
        self, rows: IntArray, ks: tuple[int, int, int]
    ) -> tuple[IntArray, FloatArray, FloatArray, BoolArray]:
        """Per order of ``rows``: its ``ks[0]`` nearest couriers of the fastest vehicle
        (fewer if it is ready now), ``ks[1]`` of the next and ``ks[2]`` of every slower
        one (a row of worker indices, -1 where a row has fewer) with their distances, the
        lower bound of its every other pair, and whether some other pair could be
        eligible (declines aside).

        The couriers near an order not ready yet all cost the same (it waits for
        whichever comes), so its check fails, whatever the prices, unless it sees every
        courier within that radius; an order ready now has no such radius and sees
        :data:`PER_FASTEST_READY_SHARE` of the fastest vehicle's ``ks[0]``, scaled up by
        the share of those couriers who hold a route (they cost more than their bound,
        so they rarely win: with half of them holding one, an order saw 4 free couriers
        instead of 8, and one order in doubt at 500 x 2,000 cost a second solve)."""
        problem = self.problem
        widths = [min(ks[rank], len(members)) for _, members, _, rank in self.trees]
        # one table for every vehicle, each written in its block of columns
        near = np.empty((len(rows), sum(widths)), np.intp)
        distances = np.empty(near.shape)
        bound = np.zeros(len(rows))
        may_be_eligible = np.zeros(len(rows), bool)
        xy = problem.task_xy[rows]
        at = 0
        for (code, members, tree, rank), width in zip(self.trees, widths, strict=True):
            near_v, distance_v = near[:, at : at + width], distances[:, at : at + width]
            at += width
            k = ks[rank]
            if len(members) <= k:  # every courier of this vehicle is a candidate
                near_v[:] = members
                distance_v[:] = cdist(xy, problem.worker_xy[members])
                continue
            k_ready = max(1, int(k * PER_FASTEST_READY_SHARE))
            if problem.routes:  # about as many free couriers as without routes
                free = int(np.count_nonzero(~problem.route_held[members]))
                k_ready = min(k, k_ready * len(members) // max(1, free))
            groups: list[tuple[IntArray | slice, int]] = [(slice(None), k)]
            if rank == 0 and k_ready < k:
                # an order ready now: its nearest few decide; the others see k
                ready = problem.ready_in[rows] <= 0.0
                groups = [(np.flatnonzero(ready), k_ready), (np.flatnonzero(~ready), k)]
                near_v[:, k_ready:] = -1
                distance_v[:, k_ready:] = np.inf
            for g, k_g in groups:
                xy_g = xy[g]
                if len(xy_g) == 0:
                    continue
                distance, index = tree.query(xy_g, k=k_g + 1)
                near_v[g, :k_g] = members[index[:, :k_g]]
                distance_v[g, :k_g] = distance[:, :k_g]
                low, eligible = distance_bound(problem, rows[g], code, distance[:, k_g])
                bound[g] = np.minimum(bound[g], low)
                may_be_eligible[g] |= eligible
        return near, distances, bound, may_be_eligible


def candidate_costs(
    problem: CityProblem,
    rows: IntArray,
    near: IntArray,
    distance: FloatArray,
    below_free: int = COSTED_BELOW_FREE,
) -> tuple[FloatArray, BoolArray, FloatArray, BoolArray]:
    """Reduced costs and ineligibility of each order of ``rows`` with its candidates
    ``near`` at ``distance`` (-1: no candidate there, reduced cost 0 and ineligible); and
    the pairs deferred (see the module docstring; ``below_free``: as
    :data:`COSTED_BELOW_FREE`) with their lower bounds: a deferred pair's reduced cost
    reads 0 until :meth:`CandidateTable.settle` costs it."""
    none = near < 0
    safe = np.where(none, 0, near) if none.any() else near
    reduced, ineligible = free_pairs(
        problem, rows[:, None], safe, np.where(none, 0.0, distance) if none.any() else distance
    )
    reduced[none] = 0.0
    ineligible[none] = True
    lower = np.zeros(reduced.shape)
    deferred = np.zeros(reduced.shape, bool)
    if problem.routes:
        with_route = (reduced < 0.0) & problem.route_held[safe] & ~none
        if with_route.any():
            free = np.where(with_route, 0.0, reduced)
            rank = min(max(1, below_free), free.shape[1]) - 1
            threshold = np.partition(free, rank, axis=1)[:, rank]
            now = with_route & (reduced < threshold[:, None])
            r, c = np.nonzero(now)
            exact = problem.route_pairs(rows[r], safe[r, c])
            deferred = with_route & ~now
            lower[deferred] = reduced[deferred]
            reduced[deferred] = 0.0
            reduced[r, c] = exact
    return reduced, ineligible, lower, deferred


class CandidateTable:
    """Per order, a row of candidate workers (-1: none) with their reduced costs and
    eligibility, the deferred pairs with their lower bounds, the bound of every other
    pair, whether another may be eligible, and whether one seen beyond the candidates
    is useful."""

    def __init__(self, problem: CityProblem, below_free: int = COSTED_BELOW_FREE) -> None:
        n = len(problem.task_ids)
        self.problem = problem
        self.below_free = below_free
        self.worker: IntArray = np.full((n, 0), -1, np.intp)
        self.reduced: FloatArray = np.zeros((n, 0))
        self.eligible: BoolArray = np.zeros((n, 0), bool)
        self.lower: FloatArray = np.zeros((n, 0))
        self.deferred: BoolArray = np.zeros((n, 0), bool)
        self.bound: FloatArray = np.zeros(n)
        self.other_eligible: BoolArray = np.zeros(n, bool)
        #: a pair beyond the candidates, seen while checking, beats leaving the order
        self.other_useful: BoolArray = np.zeros(n, bool)

    def set(
        self,
        rows: IntArray,
        near: IntArray,
        distance: FloatArray,
        bound: FloatArray,
        eligible: BoolArray,
    ) -> None:
        """Make ``near``, at ``distance``, the candidates of ``rows`` (costed here)."""
        width = near.shape[1]
        reduced, ineligible, lower, deferred = candidate_costs(
            self.problem, rows, near, distance, self.below_free
        )
        if self.worker.shape[1] == 0 and len(rows) == len(self.worker):  # the first round
            self.worker = np.empty(near.shape, np.intp)
            self.worker[rows] = near
            self.reduced = np.empty(reduced.shape)
            self.reduced[rows] = reduced
            self.eligible = np.empty(ineligible.shape, bool)
            self.eligible[rows] = ~ineligible
            self.lower = np.empty(lower.shape)
            self.lower[rows] = lower
            self.deferred = np.empty(deferred.shape, bool)
            self.deferred[rows] = deferred
            self.bound[rows] = bound
            self.other_eligible[rows] = eligible
            return
        if width > self.worker.shape[1]:
            extra = width - self.worker.shape[1]
            n = len(self.worker)
            self.worker = np.hstack([self.worker, np.full((n, extra), -1, np.intp)])
            self.reduced = np.hstack([self.reduced, np.zeros((n, extra))])
            self.eligible = np.hstack([self.eligible, np.zeros((n, extra), bool)])
            self.lower = np.hstack([self.lower, np.zeros((n, extra))])
            self.deferred = np.hstack([self.deferred, np.zeros((n, extra), bool)])
        for name, value, blank in (
            ("worker", near, -1),
            ("reduced", reduced, 0.0),
            ("eligible", ~ineligible, False),
            ("lower", lower, 0.0),
            ("deferred", deferred, False),
        ):
            table = getattr(self, name)
            table[rows] = blank
            table[rows, :width] = value
        self.bound[rows] = bound
        self.other_eligible[rows] = eligible
        self.other_useful[rows] = False

    def settle(self, u: FloatArray, price: FloatArray, every: bool = False) -> bool:
        """Cost by route the deferred pairs that could break the dual certificate
        (``lower + price[worker] < u``; with ``every``, all of them) and write them into
        the table; True when one of them, exactly costed, does break it (the solve must
        then run again with it)."""
        if not self.deferred.any():
            return False
        worker = np.maximum(self.worker, 0)
        doubt = (
            self.deferred if every else self.deferred & (self.lower + price[worker] < u[:, None])
        )
        r, c = np.nonzero(doubt)
        if not len(r):
            return False
        w = worker[r, c]
        exact = self.problem.route_pairs(r, w)
        self.reduced[r, c] = exact
        self.deferred[r, c] = False
        self.lower[r, c] = 0.0
        return bool((exact + price[w] < u[r]).any())
