"""Hand-built days for the simulator tests."""

from __future__ import annotations

from jarvis.models import Courier, Order, Point, Vehicle
from jarvis.sim.couriers import Shift
from jarvis.sim.day import DAY_START, Day

T0 = DAY_START + 12 * 3600.0


def point(dx_km: float, dy_km: float) -> Point:
    """A point ``dx_km`` east and ``dy_km`` north of the test city's centre."""
    return Point(lat=48.85 + dy_km / 111.2, lon=2.35 + dx_km / (111.2 * 0.6578))


def order(oid: str, created: float, prep_s: float, pickup: Point, dropoff: Point) -> Order:
    return Order(
        id=oid, pickup=pickup, dropoff=dropoff, created_at=created, ready_at=created + prep_s
    )


def shift(cid: str, at: Point, capacity: int = 1, hours: float = 4.0) -> Shift:
    courier = Courier(id=cid, position=at, capacity=capacity, vehicle=Vehicle.BIKE)
    return Shift(courier, T0, T0 + hours * 3600.0)


def day(orders: list[Order], shifts: list[Shift], hours: float = 2.0) -> Day:
    return Day(tuple(orders), tuple(shifts), T0, T0 + hours * 3600.0)
