"""Couriers: shifts (log in, log out), and riding a planned route at the estimator's speed.

A courier rides its planned route (:func:`jarvis.models.routes.plan`), in the stop
order the decision planned (``Decision.routes``: each new order where its cheapest
insertion put it), the same route the decision code costs it by. At a pickup it waits
until the order is ready. After its shift it takes no new order, delivers what it holds
and logs out.

Shifts: a day of five hours or more has lunch, dinner and long shifts (two in five,
two in five, one in five of the fleet, each start and end jittered by up to half an
hour); a shorter window is one shift for the whole fleet, logging in over its first ten
minutes. Long shifts, and a short window's, end an hour after the last order can
arrive, so that the orders still open then are delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jarvis.models import (
    Courier,
    EtaEstimator,
    HeldOrder,
    Legs,
    Order,
    Point,
    Vehicle,
    distance_km,
    plan,
)
from jarvis.sim.restaurants import point_in_city

__all__ = ["Rider", "Shift", "Stop", "make_shifts", "travel_s"]

#: Vehicle codes as the estimator reads them (jarvis.models.estimate.VEHICLES).
_VEHICLE_CODES = {v: i for i, v in enumerate(Vehicle)}
#: Long shifts (and a short window's) end this long after the last order can arrive.
_OVERTIME_S = 3600.0
_SHIFTS = ((10.5 * 3600, 15.0 * 3600), (17.5 * 3600, 22.5 * 3600), (0.0, 86400.0))


@dataclass(frozen=True)
class Shift:
    """A courier's working time (unix seconds) and where it logs in."""

    courier: Courier
    start: float
    end: float


def make_shifts(
    rng: np.random.Generator,
    count: int,
    day_start: float,
    start_s: float,
    end_s: float,
    capacity: int,
    vehicle: Vehicle,
    radius_km: float,
) -> tuple[Shift, ...]:
    """The fleet's shifts for the window ``start_s``..``end_s`` (seconds of the day)."""
    shifts = []
    short = end_s - start_s < 5 * 3600
    for i in range(count):
        position = point_in_city(rng, radius_km, spread=0.6)
        if short:
            begin, end = start_s + float(rng.uniform(0, 600)), end_s + _OVERTIME_S
        else:
            kind = (0, 1, 0, 1, 2)[i % 5]
            first, last = _SHIFTS[kind]
            jitter = rng.uniform(-1800, 1800, 2)
            begin = max(start_s, first + float(jitter[0]))
            end = min(end_s, last + float(jitter[1]))
            if kind == 2 or end - begin < 1800:  # long, or clipped to nothing: the window
                begin, end = start_s, end_s + _OVERTIME_S
        courier = Courier(id=f"c{i}", position=position, capacity=capacity, vehicle=vehicle)
        shifts.append(Shift(courier, day_start + begin, day_start + end))
    return tuple(shifts)


def travel_s(estimator: EtaEstimator, a: Point, b: Point, vehicle: Vehicle, at: float) -> float:
    """Seconds the estimator gives for one leg from ``a`` to ``b``."""
    km = distance_km(np.array(a.lat), np.array(a.lon), np.array(b.lat), np.array(b.lon))
    legs = Legs(
        np.array([a.lat, a.lon]),
        np.array([b.lat, b.lon]),
        np.asarray(km, float),
        np.asarray(_VEHICLE_CODES[vehicle], np.intp),
        at,
    )
    return float(estimator.travel_s(legs))


@dataclass(frozen=True)
class Stop:
    """Something that happened on a route: ``order`` picked up or delivered at ``at``."""

    order: Order
    picked_up: bool
    at: float


@dataclass
class Rider:
    """One courier in the simulation: where it is, what it holds, its time accounts."""

    shift: Shift
    position: Point  # where the rider stands, or the start of the leg it is riding
    clock: float  # when the rider is at ``position`` (or leaves it, after waiting)
    #: Where the rider is now when it is part of the way along a leg.
    here: Point | None = None
    held: list[HeldOrder] = field(default_factory=list)
    online: bool = False
    done: bool = False  # logged out for the day
    online_s: float = 0.0
    idle_s: float = 0.0

    @property
    def id(self) -> str:
        return self.shift.courier.id

    @property
    def capacity(self) -> int:
        return self.shift.courier.capacity

    @property
    def free_slots(self) -> int:
        return self.capacity - len(self.held)

    def courier(self) -> Courier:
        """The courier as the decision code sees it: capacity is its free slots."""
        return self.shift.courier.model_copy(
            update={"position": self.here or self.position, "capacity": max(1, self.free_slots)}
        )

    def ride(self, now: float, estimator: EtaEstimator) -> list[Stop]:
        """Ride the planned route up to ``now``; the pickups and deliveries on the way."""
        stops: list[Stop] = []
        vehicle = self.shift.courier.vehicle
        while self.held:
            order, is_pickup = plan(self.held)[0]
            target = order.pickup if is_pickup else order.dropoff
            arrive = self.clock + travel_s(estimator, self.position, target, vehicle, self.clock)
            if arrive > now:
                # part of the way: the leg keeps its start (so its arrival stays exact)
                p, f = self.position, max(0.0, now - self.clock) / (arrive - self.clock)
                self.here = Point(
                    lat=p.lat + f * (target.lat - p.lat), lon=p.lon + f * (target.lon - p.lon)
                )
                return stops
            self.position, self.here = target, None
            if is_pickup:
                self.clock = max(arrive, order.ready_at)
                if self.clock > now:  # waiting at the restaurant
                    self.clock = arrive
                    return stops
                self.held = [
                    HeldOrder(h.order, h.picked_up or h.order.id == order.id, h.place)
                    for h in self.held
                ]
                stops.append(Stop(order, True, self.clock))
            else:
                self.clock = arrive
                self.held = [h for h in self.held if h.order.id != order.id]
                stops.append(Stop(order, False, arrive))
        self.clock = max(self.clock, now)
        return stops

    def stop_here(self, now: float) -> None:
        """Stop where the rider is at ``now`` (its next stop changed under it)."""
        if self.here is not None:
            self.position, self.here = self.here, None
            self.clock = now
