"""A city's decision as arrays: orders x online couriers, costed block by block.

A courier who holds orders (``held``) is costed by route: an order's cost is its
cheapest insertion into the courier's planned route (:mod:`jarvis.models.routes`), not a
ride from a free courier's position. Eligibility (pickup distance and time limits) is
judged from where the courier is, whatever it holds.

Costs are built row-chunk by row-chunk so that every intermediate array stays in the
CPU cache: the dense matrix is written once, and each of the twenty-odd numpy passes
that compute it runs on a few hundred kilobytes instead of streaming megabytes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from operator import attrgetter

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from jarvis.errors import DispatchError
from jarvis.models.city import Courier, Order
from jarvis.models.city_costs import Columns, dense_chunk, free_pairs
from jarvis.models.config import CityConfig
from jarvis.models.estimate import (
    VEHICLES,
    EtaEstimator,
    Legs,
    StraightLineEstimator,
)
from jarvis.models.geo import Point, local_xy_km
from jarvis.models.held_routes import check_latlon, float_table, stack_held_routes
from jarvis.models.problem import Block, BoolArray, FloatArray, IntArray, check_unique
from jarvis.models.routes import (
    HeldOrder,
    NewOrders,
    Route,
    RouteMap,
    RouteStack,
    insertion_costs,
    pair_costs,
    pair_table,
)
from jarvis.models.rules import Rules

__all__ = ["CityProblem"]

#: Elements per chunk of the cost matrix (256 KiB of float64): fits in L2.
CHUNK_ELEMENTS = 32_768
#: ``candidates_per_order`` switches to costing each order's nearest couriers only (a
#: k-d tree, no dense pass) when there are at least this many times more couriers.
SPARSE_FROM = 4
#: (order, route) pairs costed by route in one numpy pass.
PAIR_CHUNK = 65_536

_VEHICLE_CODE = {v.value: i for i, v in enumerate(VEHICLES)}
_ID, _ONLINE, _POSITION = attrgetter("id"), attrgetter("online"), attrgetter("position")
_LAT, _LON, _VEHICLE = attrgetter("lat"), attrgetter("lon"), attrgetter("vehicle")
_CAPACITY = attrgetter("capacity")


class CityProblem:
    """Orders and the online couriers of one city at time ``now``."""

    def __init__(
        self,
        orders: Sequence[Order],
        couriers: Sequence[Courier],
        now: float,
        config: CityConfig,
        rules: Rules | None = None,
        estimator: EtaEstimator | None = None,
        held: Mapping[str, Sequence[HeldOrder]] | None = None,
        declines: Sequence[tuple[str, str, float]] = (),
        *,
        leave: Mapping[str, float] | None = None,
        forbidden: Collection[tuple[str, str]] = (),
    ) -> None:
        """``leave`` replaces the leave-unassigned cost of the orders it names (the
        reassignment pass: what an order costs where it is, less the hysteresis);
        ``forbidden`` (order id, courier id) pairs are ineligible."""
        task_ids = [o.id for o in orders]
        check_unique(task_ids, "order")
        courier_ids = list(map(_ID, couriers))
        check_unique(courier_ids, "courier")
        if not np.isfinite(now):
            raise DispatchError(f"now must be finite, got {now!r}")
        every_online = all(map(_ONLINE, couriers))
        online = couriers if every_online else [c for c in couriers if c.online]
        rules = rules or Rules()
        self.now = float(now)
        self.config = config
        self.estimator: EtaEstimator = estimator or StraightLineEstimator()
        self._s_per_km = (
            # the built-in estimator is inlined into the cost; any other one is called
            self.estimator.s_per_km if type(self.estimator) is StraightLineEstimator else None
        )
        self._task_ids = tuple(task_ids)
        self._worker_ids = tuple(courier_ids if every_online else map(_ID, online))

        # one pass over the records each: every number of an order, of a courier
        order_table = float_table(
            [
                (o.pickup.lat, o.pickup.lon, o.dropoff.lat, o.dropoff.lon,
                 o.created_at, o.ready_at, o.priority)
                for o in orders
            ],
            7,
        )  # fmt: skip
        # one pass over the couriers per field (attrgetter: no Python frame per record)
        positions = list(map(_POSITION, online))
        position = np.empty((len(online), 2))
        position[:, 0] = np.fromiter(map(_LAT, positions), float, len(online))
        position[:, 1] = np.fromiter(map(_LON, positions), float, len(online))
        vehicle_codes = map(_VEHICLE_CODE.__getitem__, map(_VEHICLE, online))
        vehicle = np.fromiter(vehicle_codes, np.intp, len(online))
        capacity = np.fromiter(map(_CAPACITY, online), np.intp, len(online))
        pickup, dropoff = order_table[:, 0:2], order_table[:, 2:4]
        check_latlon(pickup, "order pickup")
        check_latlon(dropoff, "order dropoff")
        check_latlon(position, "courier position")
        times = order_table[:, 4:6]
        if not np.isfinite(times).all():
            raise DispatchError("order created_at and ready_at must be finite")

        both = np.concatenate([pickup, position]) if len(pickup) else position
        ref_lat = float(np.median(both[:, 0])) if len(both) else 0.0
        ref_lon0 = float(both[0, 1]) if len(both) else 0.0
        wrapped = (both[:, 1] - ref_lon0 + 180.0) % 360.0 - 180.0
        ref_lon = ref_lon0 + float(np.median(wrapped)) if len(both) else 0.0
        self.pickup, self.position = pickup, position
        self.dropoff = dropoff
        self.task_xy = local_xy_km(pickup[:, 0], pickup[:, 1], ref_lat, ref_lon)
        self.worker_xy = local_xy_km(position[:, 0], position[:, 1], ref_lat, ref_lon)
        drop_xy = local_xy_km(dropoff[:, 0], dropoff[:, 1], ref_lat, ref_lon)
        self.ref = (ref_lat, ref_lon)
        self.drop_xy = drop_xy
        self.trip_km = np.hypot(*(drop_xy - self.task_xy).T) if len(orders) else np.zeros(0)

        self.vehicle = vehicle
        by_vehicle = {
            v: rules.limits(Courier(id="x", position=Point(lat=0, lon=0), vehicle=v))
            for v in VEHICLES
        }
        # limits by vehicle code, then per courier
        self.vehicle_max_km = np.array([by_vehicle[v].max_pickup_km for v in VEHICLES], float)
        self.vehicle_max_s = np.array([by_vehicle[v].max_pickup_s for v in VEHICLES], float)
        self.vehicle_min_priority = np.array(
            [by_vehicle[v].min_priority for v in VEHICLES], np.int64
        )
        max_tasks = np.array([by_vehicle[v].max_tasks for v in VEHICLES], np.intp)
        self.max_km = self.vehicle_max_km[self.vehicle]
        self.max_s = self.vehicle_max_s[self.vehicle]
        self.min_priority = self.vehicle_min_priority[self.vehicle]
        self._slots = np.minimum(capacity, max_tasks[self.vehicle])

        self.priority = order_table[:, 6].astype(np.int64)
        self.weight = 1.0 + config.priority_weight * self.priority.astype(float)
        self.ready_in = times[:, 1] - self.now
        self.slack = times[:, 0] + config.promise_s - self.now
        # An order waits for a courier who brings it within max_delivery_s; each second
        # it has waited widens that by a second, so an order no courier can bring that
        # fast (a far suburb) is assigned once it has waited long enough, never starved.
        horizon = config.max_delivery_s + np.maximum(0.0, self.now - times[:, 0])
        self.late_at_horizon = np.maximum(0.0, horizon - self.slack)
        self._leave = self.weight * (horizon + config.lateness_weight * self.late_at_horizon)
        #: (task, worker) pairs a recent decline forbids.
        task_at: dict[str, int] = {}
        worker_at: dict[str, int] = {}
        if leave or declines or forbidden:
            task_at = {t: i for i, t in enumerate(self._task_ids)}
            worker_at = {w: i for i, w in enumerate(self._worker_ids)}
        for task, value in (leave or {}).items():
            if task in task_at:
                self._leave[task_at[task]] = value
        cooldown = config.decline_cooldown_s
        self.declined: frozenset[tuple[int, int]] = frozenset(
            (task_at[o], worker_at[c])
            for o, c, at in declines
            if o in task_at and c in worker_at and at + cooldown > self.now
        ) | frozenset(
            (task_at[o], worker_at[c]) for o, c in forbidden if o in task_at and c in worker_at
        )
        #: Planned routes of the couriers who hold orders, by worker index; the same
        #: routes stacked by number of stops, with each worker's (stack, row).
        self.routes: Mapping[int, Route] = {}
        self._stacks: list[RouteStack] = []
        self._route_stack = np.full(len(online), -1, np.intp)
        self._route_row = np.full(len(online), -1, np.intp)
        if held is not None:
            self._stacks, self._route_stack, self._route_row = stack_held_routes(
                self._worker_ids, position, vehicle, held, self.ref, config, self.estimator, now
            )
            self.routes = RouteMap(self._stacks, self._route_stack, self._route_row)

    @property
    def task_ids(self) -> tuple[str, ...]:
        return self._task_ids

    @property
    def worker_ids(self) -> tuple[str, ...]:
        return self._worker_ids

    @property
    def leave(self) -> FloatArray:
        return self._leave

    @property
    def slots(self) -> IntArray:
        return self._slots

    def block(self, tasks: IntArray | None, workers: IntArray | None) -> Block:
        t_all = np.arange(len(self._task_ids)) if tasks is None else tasks
        w_sel = slice(None) if workers is None else workers
        cols = Columns(
            xy=self.worker_xy[w_sel],
            position=self.position[w_sel][None, :, :],
            vehicle=self.vehicle[w_sel][None, :],
            s_per_km=None
            if self._s_per_km is None
            else self._s_per_km[self.vehicle[w_sel]][None, :],
            max_km=self.max_km[w_sel][None, :],
            max_s=self.max_s[w_sel][None, :],
            min_priority=self.min_priority[w_sel][None, :],
        )
        check_km = bool(np.isfinite(cols.max_km).any())
        check_s = bool(np.isfinite(cols.max_s).any())
        check_priority = bool(cols.min_priority.any())
        n_w = len(cols.xy)
        out = np.empty((len(t_all), n_w))
        eligible_any = np.full(len(t_all), n_w > 0)
        if n_w == 0:
            return Block(out, eligible_any)
        keep = self.config.candidates_per_order
        if keep > 0 and n_w >= SPARSE_FROM * keep and self._s_per_km is not None:
            w_idx = np.arange(n_w) if workers is None else workers
            sparse, eligible = self._nearest_block(t_all, w_idx, keep)
            if self.routes:
                self._route_columns(t_all, workers, sparse)
            return Block(sparse, eligible)
        step = max(1, CHUNK_ELEMENTS // n_w)
        for start in range(0, len(t_all), step):
            rows = t_all[start : start + step]
            dest = out[start : start + step]
            ineligible = dense_chunk(self, rows, dest, cols, check_km, check_s, check_priority)
            if self.declined:
                ineligible = self._forbid(rows, w_sel, ineligible, dest.shape)
            if ineligible is not None:
                np.putmask(dest, ineligible, 0.0)
                eligible_any[start : start + step] = ~ineligible.all(axis=1)
            if 0 < keep < n_w:
                _keep_cheapest(dest, keep)
        if self.routes:
            self._route_columns(t_all, workers, out)
        return Block(out, eligible_any)

    def _nearest_block(
        self, t_all: IntArray, w_idx: IntArray, keep: int
    ) -> tuple[FloatArray, BoolArray]:
        """The block with each order costed against its ``keep`` nearest couriers only
        (straight-line estimator; a k-d tree), every other pair 0; and which orders had
        an eligible courier among them."""
        n = len(t_all)
        _, near = cKDTree(self.worker_xy[w_idx]).query(self.task_xy[t_all], k=keep)
        r = np.repeat(np.arange(n), keep)
        c = np.asarray(near, np.intp).ravel()
        reduced, ineligible = free_pairs(self, t_all[r], w_idx[c])
        out = np.zeros((n, len(w_idx)))
        out[r, c] = reduced
        eligible_any = np.zeros(n, bool)
        eligible_any[r[~ineligible]] = True
        return out, eligible_any

    @property
    def straight_line(self) -> FloatArray | None:
        """Seconds per km by vehicle code when the built-in estimator is used, else None."""
        return self._s_per_km

    @property
    def route_held(self) -> BoolArray:
        """Per worker: whether it holds a route (costed by insertion)."""
        out: BoolArray = self._route_stack >= 0
        return out

    def route_pairs(self, t: IntArray, w: IntArray) -> FloatArray:
        """Reduced costs by route of the pairs ``(t[p], w[p])``; every ``w[p]`` holds a route."""
        out = np.empty(len(t))
        stack_of = self._route_stack[w]
        lateness = self.config.lateness_weight
        for g, stack in enumerate(self._stacks):
            hit = np.flatnonzero(stack_of == g)
            for start in range(0, len(hit), PAIR_CHUNK):
                part = hit[start : start + PAIR_CHUNK]
                tasks = t[part]
                cost = pair_costs(
                    stack,
                    self._route_row[w[part]],
                    self.new_orders(tasks),
                    lateness,
                    self.estimator,
                    self.now,
                )
                out[part] = np.minimum(cost - self._leave[tasks], 0.0)
        return out

    def _route_columns(self, rows: IntArray, workers: IntArray | None, out: FloatArray) -> None:
        """Overwrite the pairs of couriers with a route by their insertion cost.

        With the straight-line estimator an insertion never costs less than the ride of a
        free courier from the same position (triangle inequality; waits and delays only
        add), so only the pairs whose free-courier cost already beats leaving the order
        are costed by route: the others stay at 0, exactly as they would end. Any other
        estimator gets every eligible pair costed by route.
        """
        selected = np.arange(len(self._worker_ids)) if workers is None else workers
        cols = np.flatnonzero(self._route_stack[selected] >= 0)
        if not len(cols) or not len(rows):
            return
        if self._s_per_km is not None:
            r_idx, c_idx = np.nonzero(out[:, cols] < 0.0)
        else:
            r_idx, c_idx = np.nonzero(~self.ineligible(rows, selected[cols]))
            out[:, cols] = 0.0
        out[r_idx, cols[c_idx]] = self.route_pairs(rows[r_idx], selected[cols[c_idx]])

    def insertion_costs(self, w: int, rows: IntArray) -> FloatArray:
        """Cost of giving each order of ``rows`` to worker ``w`` who holds a route."""
        lateness = self.config.lateness_weight
        new = self.new_orders(rows)
        return insertion_costs(self.routes[w], new, lateness, self.estimator, self.now)

    def best_insertions(self, tasks: IntArray, workers: IntArray) -> tuple[IntArray, IntArray]:
        """Where the cheapest insertion of order ``tasks[p]`` into the route of worker
        ``workers[p]`` puts it, for every pair ``p``: places (i, j) as in
        :func:`jarvis.models.routes.insertion_table` (pickup before stop i, drop-off
        before stop j); (-1, -1) for a worker without a route."""
        first = np.full(len(tasks), -1, np.intp)
        second = np.full(len(tasks), -1, np.intp)
        stack_of = self._route_stack[workers]
        for g, stack in enumerate(self._stacks):
            hit = np.flatnonzero(stack_of == g)
            if not len(hit):
                continue
            table, pi, pj = pair_table(
                stack,
                self._route_row[workers[hit]],
                self.new_orders(tasks[hit]),
                self.config.lateness_weight,
                self.estimator,
                self.now,
            )
            best = table.argmin(axis=1)
            first[hit], second[hit] = pi[best], pj[best]
        return first, second

    def new_orders(self, rows: IntArray) -> NewOrders:
        """The orders of ``rows`` as :class:`NewOrders` for route insertion."""
        return NewOrders(
            self.pickup[rows],
            self.task_xy[rows],
            self.dropoff[rows],
            self.drop_xy[rows],
            self.ready_in[rows],
            self.weight[rows],
            self.slack[rows],
        )

    def _ineligible(self, rows: IntArray, w: int) -> BoolArray:
        """The pairs of ``rows`` with worker ``w`` that its limits forbid (as in dense_chunk)."""
        out: BoolArray = self.ineligible(rows, np.array([w], np.intp))[:, 0]
        return out

    def ineligible(self, rows: IntArray, workers: IntArray) -> BoolArray:
        """Which pairs of ``rows`` x ``workers`` the workers' limits forbid."""
        distance: FloatArray = cdist(self.task_xy[rows], self.worker_xy[workers])
        out: BoolArray = distance > self.max_km[workers][None, :]
        max_s = self.max_s[workers][None, :]
        if np.isfinite(max_s).any():
            legs = Legs(
                self.position[workers][None, :, :],
                self.pickup[rows][:, None, :],
                distance,
                self.vehicle[workers][None, :],
                self.now,
            )
            to_pickup = np.broadcast_to(self.estimator.travel_s(legs), distance.shape)
            out |= to_pickup > max_s
        out |= self.priority[rows][:, None] < self.min_priority[workers][None, :]
        forbidden = self._forbid(rows, workers, out, out.shape) if self.declined else None
        return out if forbidden is None else forbidden

    def _forbid(
        self,
        rows: IntArray,
        workers: IntArray | slice,
        ineligible: BoolArray | None,
        shape: tuple[int, ...],
    ) -> BoolArray | None:
        """``ineligible`` with the declined pairs among ``rows`` x ``workers`` added."""
        cols = np.arange(len(self._worker_ids))[workers]
        row_at = {t: r for r, t in enumerate(rows.tolist())}
        col_at = {w: c for c, w in enumerate(cols.tolist())}
        hits = [(row_at[t], col_at[w]) for t, w in self.declined if t in row_at and w in col_at]
        if not hits:
            return ineligible
        out: BoolArray = np.zeros(shape, bool) if ineligible is None else ineligible.copy()
        r, c = zip(*hits, strict=True)
        out[list(r), list(c)] = True
        return out


def _keep_cheapest(dest: FloatArray, keep: int) -> None:
    """Zero every reduced cost of a row but its ``keep`` cheapest (in place; among equal
    costs at the cut, which ones stay is arbitrary: a row never keeps more than ``keep``)."""
    drop = np.argpartition(dest, keep - 1, axis=1)[:, keep:]
    np.put_along_axis(dest, drop, 0.0, axis=1)
