"""Domain types, time estimates, rules and the solver. Pure: no I/O, no threads."""

from jarvis.models.city import Courier, Order, Vehicle
from jarvis.models.config import CityConfig, StoreConfig
from jarvis.models.estimate import EtaEstimator, Legs, StraightLineEstimator
from jarvis.models.geo import Point
from jarvis.models.rules import (
    DequeueRule,
    EnqueueRule,
    Qualification,
    Rules,
    WorkerLimits,
    load_rules,
)
from jarvis.models.solver import (
    CHEAPER_TO_WAIT,
    NO_ELIGIBLE_WORKER,
    NO_FREE_CAPACITY,
    Assignment,
    Decision,
    decide_city,
    decide_store,
    uses_large_path,
)
from jarvis.models.work import Associate, WorkItem, may_take

__all__ = [
    "CHEAPER_TO_WAIT",
    "NO_ELIGIBLE_WORKER",
    "NO_FREE_CAPACITY",
    "Assignment",
    "Associate",
    "CityConfig",
    "Courier",
    "Decision",
    "DequeueRule",
    "EnqueueRule",
    "EtaEstimator",
    "Legs",
    "Order",
    "Point",
    "Qualification",
    "Rules",
    "StoreConfig",
    "StraightLineEstimator",
    "Vehicle",
    "WorkItem",
    "WorkerLimits",
    "decide_city",
    "decide_store",
    "load_rules",
    "may_take",
    "uses_large_path",
]
