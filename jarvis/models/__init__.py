"""Domain types, time estimates, rules and the solver. Pure: no I/O, no threads."""

from jarvis.models.city import Courier, Order, Vehicle
from jarvis.models.geo import Point
from jarvis.models.work import Associate, WorkItem, may_take

__all__ = ["Associate", "Courier", "Order", "Point", "Vehicle", "WorkItem", "may_take"]
