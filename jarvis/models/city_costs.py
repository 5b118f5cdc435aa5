"""What an order costs with a courier, before any route: the reduced costs of a city.

The reduced cost of an (order, courier) pair is ``min(cost - leave, 0)`` where it is
eligible, and 0 where it is not (see :mod:`jarvis.models.problem`); the cost is the
order's weighted delivery time, with lateness, from a free courier's position. Computed
here in dense row chunks (the block of :class:`~jarvis.models.city_problem.CityProblem`),
pair by pair (the candidates of :mod:`jarvis.models.pruned`), and as a lower bound for
every courier of a vehicle at least some distance away: with the straight-line
estimator the reduced cost of a free courier only grows with its distance (an
ineligible pair is 0, above every useful one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.spatial.distance import cdist

from jarvis.models.estimate import Legs, check_estimate
from jarvis.models.problem import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    from jarvis.models.city_problem import CityProblem

__all__ = ["Columns", "dense_chunk", "distance_bound", "free_pairs", "pair_reduced"]


def dense_chunk(
    problem: CityProblem,
    rows: IntArray,
    dest: FloatArray,
    cols: Columns,
    check_km: bool,
    check_s: bool,
    check_priority: bool,
) -> BoolArray | None:
    """Reduced costs of ``rows`` x the workers of ``cols`` into ``dest`` (free couriers);
    returns the ineligible mask (``None``: every pair eligible)."""
    cfg = problem.config
    distance: FloatArray = cdist(problem.task_xy[rows], cols.xy)
    trip = problem.trip_km[rows][:, None]
    if cols.s_per_km is not None:  # the straight-line estimator, inlined
        to_pickup = distance * cols.s_per_km
        to_customer = trip * cols.s_per_km
    else:
        pickup_ll = problem.pickup[rows][:, None, :]
        to_pickup = problem.estimator.travel_s(
            Legs(cols.position, pickup_ll, distance, cols.vehicle, problem.now)
        )
        to_customer = problem.estimator.travel_s(
            Legs(pickup_ll, problem.dropoff[rows][:, None, :], trip, cols.vehicle, problem.now)
        )
        to_pickup = np.broadcast_to(to_pickup, distance.shape).astype(float)
        check_estimate(to_pickup, "time to pickup")
        check_estimate(to_customer, "time to customer")

    ineligible: BoolArray | None = None
    if check_km:
        ineligible = distance > cols.max_km
    if check_s:
        over = to_pickup > cols.max_s
        ineligible = over if ineligible is None else np.logical_or(ineligible, over)
    if check_priority:
        low = problem.priority[rows][:, None] < cols.min_priority
        ineligible = low if ineligible is None else np.logical_or(ineligible, low)

    # x: seconds from now until the customer has the order. The reduced cost is
    # weight * ((x - horizon) + lateness_weight * (late(x) - late(horizon))).
    x = np.maximum(to_pickup, problem.ready_in[rows][:, None], out=to_pickup)
    x += to_customer
    weight = problem.weight[rows][:, None]
    if cfg.lateness_weight > 0:
        late = x - problem.slack[rows][:, None]
        np.maximum(late, 0.0, out=late)
        late *= cfg.lateness_weight * weight
        x *= weight
        x -= problem.leave[rows][:, None]
        x += late
    else:
        x *= weight
        x -= problem.leave[rows][:, None]
    np.minimum(x, 0.0, out=dest)
    return ineligible


def pair_reduced(
    problem: CityProblem, t: IntArray, w: IntArray, distance: FloatArray | None = None
) -> tuple[FloatArray, BoolArray]:
    """Reduced costs of the pairs of orders ``t`` and couriers ``w`` (arrays that
    broadcast: a column of orders against a row of couriers per order, say) as
    :meth:`CityProblem.block` gives them, and which pairs are ineligible (straight-line
    estimator only). ``distance``: the pairs' pickup distances in km, when known."""
    reduced, ineligible = free_pairs(problem, t, w, distance)
    if problem.routes:
        hit = np.nonzero((reduced < 0.0) & problem.route_held[w])
        t_hit = np.broadcast_to(t, reduced.shape)[hit]
        reduced[hit] = problem.route_pairs(t_hit, np.broadcast_to(w, reduced.shape)[hit])
    return reduced, ineligible


def free_pairs(
    problem: CityProblem, t: IntArray, w: IntArray, distance: FloatArray | None = None
) -> tuple[FloatArray, BoolArray]:
    """:func:`pair_reduced` as if every courier were free."""
    s_per_km = np.asarray(problem.straight_line)[problem.vehicle[w]]
    if distance is None:
        task_xy, worker_xy = problem.task_xy, problem.worker_xy
        distance = np.hypot(task_xy[t, 0] - worker_xy[w, 0], task_xy[t, 1] - worker_xy[w, 1])
    to_pickup = distance * s_per_km
    ineligible = distance > problem.max_km[w]
    # the limits no vehicle sets are not checked pair by pair
    if np.isfinite(problem.vehicle_max_s).any():
        ineligible |= to_pickup > problem.max_s[w]
    if problem.vehicle_min_priority.any():
        ineligible |= problem.priority[t] < problem.min_priority[w]
    if problem.declined:
        t_all = np.broadcast_to(t, distance.shape).ravel().tolist()
        w_all = np.broadcast_to(w, distance.shape).ravel().tolist()
        declined = [pair in problem.declined for pair in zip(t_all, w_all, strict=True)]
        ineligible |= np.array(declined, bool).reshape(distance.shape)
    reduced = _reduced(problem, t, to_pickup, s_per_km)
    reduced[ineligible] = 0.0
    return reduced, ineligible


def _reduced(
    problem: CityProblem, t: IntArray, to_pickup: FloatArray, s_per_km: FloatArray
) -> FloatArray:
    """The reduced cost of orders ``t`` reached in ``to_pickup`` seconds, eligible."""
    x = np.maximum(to_pickup, problem.ready_in[t])
    x += problem.trip_km[t] * s_per_km
    lateness = problem.config.lateness_weight
    if lateness > 0:
        late = np.subtract(x, problem.slack[t])
        np.maximum(late, 0.0, out=late)
        late *= lateness
        x += late
    x *= problem.weight[t]
    x -= problem.leave[t]
    out: FloatArray = np.minimum(x, 0.0, out=x)
    return out


def distance_bound(
    problem: CityProblem, t: IntArray, vehicle: int, distance: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """A lower bound of the reduced cost of order ``t[p]`` with any courier of vehicle
    code ``vehicle`` at least ``distance[p]`` km away (free, or holding a route: an
    insertion never costs less than the ride of a free courier), and whether such a
    courier may be eligible, declines aside (straight-line estimator only)."""
    s_per_km = float(np.asarray(problem.straight_line)[vehicle])
    to_pickup = distance * s_per_km
    eligible = (
        (distance <= problem.vehicle_max_km[vehicle])
        & (to_pickup <= problem.vehicle_max_s[vehicle])
        & (problem.priority[t] >= problem.vehicle_min_priority[vehicle])
    )
    with np.errstate(invalid="ignore"):  # an infinite distance: nobody left
        low = _reduced(problem, t, to_pickup, np.full(len(t), s_per_km))
    return np.where(eligible, low, 0.0), eligible


@dataclass(frozen=True)
class Columns:
    """The worker-side arrays of a block, shaped (1, n) to broadcast against rows."""

    xy: FloatArray
    position: FloatArray
    vehicle: IntArray
    s_per_km: FloatArray | None
    max_km: FloatArray
    max_s: FloatArray
    min_priority: npt.NDArray[np.int64]
