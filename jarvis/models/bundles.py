"""Bundling: two open orders that one courier can carry together, in one tick.

Chosen approach: bundle first, then assign (the explicit bundling step of the production
dispatchers), so that scipy's ``linear_sum_assignment`` stays the engine unchanged.

1. Candidate pairs are the open orders whose pickups lie within ``bundle_pickup_km``
   (a k-d tree) and whose best two-order route (both pickups, then both drop-offs, in
   the shortest of the four orders) is at most ``bundle_detour`` times the longer of the
   two trips alone: the drop-offs lie along one route. Pairs are taken greedily,
   straightest first, so each order is in at most one bundle.
2. The rows are the orders not bundled plus one row per bundle; every courier is one
   column and takes at most one row per tick (a courier's next order is costed by its
   route on the next tick, a second later, instead of as if it were free). A bundle row
   is open only to couriers with two free slots whose limits allow both orders; it
   costs both deliveries, riding to the bundle after the courier's planned route.
3. Bundled orders left unassigned are offered again one by one to the couriers left
   free, so bundling never strands an order that a single assignment would have taken.

Putting pair rows beside single rows in one assignment would let the solver pick a
bundle and one of its orders alone at once (an order counted twice); bundling first
keeps each order in exactly one row by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from jarvis.models.city_problem import CityProblem
from jarvis.models.estimate import Legs, check_estimate
from jarvis.models.problem import Block, FloatArray, IntArray
from jarvis.models.routes import delivery_cost

__all__ = ["Bundle", "BundleProblem", "find_bundles"]


@dataclass(frozen=True)
class Bundle:
    """Two orders (task indexes) carried together, in stop order: pickup ``first``,
    pickup ``second``, then drop-off ``drop_first``, then drop-off ``drop_second``."""

    first: int
    second: int
    drop_first: int
    drop_second: int


def _sequences(a: int, b: int) -> tuple[tuple[int, int, int, int], ...]:
    return ((a, b, a, b), (a, b, b, a), (b, a, a, b), (b, a, b, a))


def find_bundles(problem: CityProblem) -> tuple[Bundle, ...]:
    """Disjoint bundles of open orders (see the module docstring), deterministic."""
    cfg = problem.config
    if cfg.bundle_pickup_km <= 0 or len(problem.task_ids) < 2:
        return ()
    pickup, drop = problem.task_xy, problem.drop_xy
    pairs = cKDTree(pickup).query_pairs(cfg.bundle_pickup_km, output_type="ndarray")
    candidates: list[tuple[float, int, int, Bundle]] = []
    for a, b in sorted(map(tuple, pairs.tolist())):
        best: tuple[float, tuple[int, int, int, int]] | None = None
        for seq in _sequences(a, b):
            p1, p2, d1, d2 = seq
            km = float(
                np.hypot(*(pickup[p2] - pickup[p1]))
                + np.hypot(*(drop[d1] - pickup[p2]))
                + np.hypot(*(drop[d2] - drop[d1]))
            )
            if best is None or km < best[0]:
                best = (km, seq)
        assert best is not None
        longer = max(float(problem.trip_km[a]), float(problem.trip_km[b]))
        ratio = best[0] / longer if longer > 0 else np.inf
        if ratio <= cfg.bundle_detour:
            candidates.append((ratio, a, b, Bundle(*best[1])))
    taken: set[int] = set()
    chosen = []
    for _, a, b, bundle in sorted(candidates, key=lambda c: (c[0], c[1], c[2])):
        if a not in taken and b not in taken:
            taken.update((a, b))
            chosen.append(bundle)
    return tuple(chosen)


class BundleProblem:
    """Rows: the unbundled orders, then the bundles; each courier one column, one slot."""

    def __init__(self, base: CityProblem, bundles: tuple[Bundle, ...]) -> None:
        self.base = base
        self.bundles = bundles
        bundled = {t for b in bundles for t in (b.first, b.second)}
        self.singles = np.array([t for t in range(len(base.task_ids)) if t not in bundled], np.intp)
        ids = base.task_ids
        self._task_ids = tuple(ids[t] for t in self.singles.tolist()) + tuple(
            f"{ids[b.first]}+{ids[b.second]}" for b in bundles
        )
        leave = base.leave
        self._leave = np.concatenate(
            [leave[self.singles], [leave[b.first] + leave[b.second] for b in bundles]]
        )
        self._slots = np.minimum(base.slots, 1)

    @property
    def task_ids(self) -> tuple[str, ...]:
        return self._task_ids

    @property
    def worker_ids(self) -> tuple[str, ...]:
        return self.base.worker_ids

    @property
    def leave(self) -> FloatArray:
        return self._leave

    @property
    def slots(self) -> IntArray:
        return self._slots

    def members(self, row: int) -> tuple[int, ...]:
        """The task indexes of ``base`` that row ``row`` stands for."""
        n = len(self.singles)
        if row < n:
            return (int(self.singles[row]),)
        bundle = self.bundles[row - n]
        return (bundle.first, bundle.second)

    def block(self, tasks: IntArray | None, workers: IntArray | None) -> Block:
        rows = np.arange(len(self._task_ids)) if tasks is None else tasks
        cols = np.arange(len(self.worker_ids)) if workers is None else workers
        n = len(self.singles)
        out = np.zeros((len(rows), len(cols)))
        eligible_any = np.zeros(len(rows), bool)
        single = rows < n
        if single.any():
            block = self.base.block(self.singles[rows[single]], cols)
            out[single] = block.reduced
            eligible_any[single] = block.eligible_any
        if (~single).any():
            chosen = [self.bundles[r - n] for r in rows[~single].tolist()]
            cost, _, _ = self.bundle_costs(chosen, cols)
            first = np.array([b.first for b in chosen], np.intp)
            second = np.array([b.second for b in chosen], np.intp)
            leave = self.base.leave
            reduced = np.minimum(cost - (leave[first] + leave[second])[:, None], 0.0)
            ineligible = self.base.ineligible(first, cols) | self.base.ineligible(second, cols)
            ineligible |= (self.base.slots[cols] < 2)[None, :]
            out[~single] = np.where(ineligible, 0.0, reduced)
            eligible_any[~single] = ~ineligible.all(axis=1)
        return Block(out, eligible_any)

    def bundle_costs(
        self, bundles: list[Bundle], workers: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Cost of each bundle for each worker (bundles x workers), and the parts of it
        for the first and the second drop-off."""
        base = self.base
        start_ll = base.position[workers].copy()
        start_xy = base.worker_xy[workers].copy()
        start_t = np.zeros(len(workers))
        for c, w in enumerate(workers.tolist()):
            route = base.routes.get(w)
            if route is not None and route.stops:
                start_ll[c], start_xy[c] = route.nodes_ll[-1], route.nodes_xy[-1]
                start_t[c] = route.depart[-1]
        vehicle = base.vehicle[workers][None, :]
        p1 = np.array([b.first for b in bundles], np.intp)
        p2 = np.array([b.second for b in bundles], np.intp)
        d1 = np.array([b.drop_first for b in bundles], np.intp)
        d2 = np.array([b.drop_second for b in bundles], np.intp)

        def leg(
            o_ll: FloatArray, o_xy: FloatArray, d_ll: FloatArray, d_xy: FloatArray
        ) -> FloatArray:
            km = np.hypot(*(d_xy - o_xy).T)[:, None]
            legs = Legs(o_ll[:, None, :], d_ll[:, None, :], km, vehicle, base.now)
            out = np.broadcast_to(base.estimator.travel_s(legs), (len(bundles), len(workers)))
            check_estimate(np.asarray(out), "bundle travel time")
            return out.astype(float)

        ride_km: FloatArray = cdist(base.task_xy[p1], start_xy)
        ride = base.estimator.travel_s(
            Legs(start_ll[None, :, :], base.pickup[p1][:, None, :], ride_km, vehicle, base.now)
        )
        ride = np.broadcast_to(ride, ride_km.shape).astype(float)
        check_estimate(ride, "bundle travel time")
        pick, drop = (base.pickup, base.task_xy), (base.dropoff, base.drop_xy)
        t = np.maximum(start_t[None, :] + ride, base.ready_in[p1][:, None])
        t = t + leg(pick[0][p1], pick[1][p1], pick[0][p2], pick[1][p2])
        t = np.maximum(t, base.ready_in[p2][:, None])
        x1 = t + leg(pick[0][p2], pick[1][p2], drop[0][d1], drop[1][d1])
        x2 = x1 + leg(drop[0][d1], drop[1][d1], drop[0][d2], drop[1][d2])
        lateness = base.config.lateness_weight
        c1 = delivery_cost(x1, base.weight[d1][:, None], base.slack[d1][:, None], lateness)
        c2 = delivery_cost(x2, base.weight[d2][:, None], base.slack[d2][:, None], lateness)
        return c1 + c2, c1, c2
