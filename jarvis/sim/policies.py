"""Dispatch policies the simulator compares, each deciding one tick.

- ``greedy``: the usual first dispatcher. Oldest order first, each to the nearest
  courier that holds nothing (straight-line distance to the pickup), until orders or
  idle couriers run out.
- ``slots``: the city's assignment solver with independent slots: every courier costed
  as if free at its position, each free slot an identical column
  (:func:`jarvis.models.decide_city` without ``held``).
- ``routes``: the same solver with route-aware costs: a courier who holds orders is
  costed by the cheapest insertion into its planned route (``held``), as the city
  engine does.
- ``bundling``: route-aware costs and bundling (:mod:`jarvis.models.bundles`) switched on.

Every policy honours declines: a courier is not offered an order it declined within
``CityConfig.decline_cooldown_s``. The route-aware policies also reassign when the city
allows it (``CityConfig.reassign_max`` > 0): after the tick's decision, the city's own
:func:`jarvis.models.find_moves` moves assigned orders not yet picked up, as the city
engine does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from jarvis.models import (
    CityConfig,
    Movable,
    Move,
    Order,
    Rules,
    decide_city,
    find_moves,
    pairwise_distance_km,
)
from jarvis.models.reassign import tick_routes
from jarvis.models.stops import Stop
from jarvis.sim.couriers import Rider
from jarvis.sim.scenario import Scenario

__all__ = ["CityPolicy", "Dispatch", "GreedyPolicy", "Policy", "policy_for"]

Declines = Sequence[tuple[str, str, float]]


@dataclass(frozen=True)
class Dispatch:
    """One tick's decision: new (order id, courier id) pairs, and reassignments."""

    pairs: tuple[tuple[str, str], ...] = ()
    moves: tuple[Move, ...] = ()
    #: The planned stop order of every courier given an order (route-aware policies).
    routes: Mapping[str, tuple[Stop, ...]] = field(default_factory=dict)


class Policy(Protocol):
    """Decides one tick among ``pool`` and ``riders`` (online couriers in their shift
    with a free slot); ``movable`` are the assigned orders not picked up yet."""

    name: str
    #: Whether the policy may reassign (the engine then passes ``movable``).
    reassigns: bool

    def assign(
        self,
        pool: Sequence[Order],
        riders: Sequence[Rider],
        now: float,
        declines: Declines,
        movable: Sequence[Movable] = (),
    ) -> Dispatch: ...


class CityPolicy:
    """The city's own decision code, :func:`jarvis.models.decide_city`."""

    def __init__(
        self, name: str, config: CityConfig, route_aware: bool, rules: Rules | None = None
    ) -> None:
        self.name = name
        self.config = config
        self.route_aware = route_aware
        self.rules = rules
        self.reassigns = route_aware and config.reassign_max > 0

    def assign(
        self,
        pool: Sequence[Order],
        riders: Sequence[Rider],
        now: float,
        declines: Declines,
        movable: Sequence[Movable] = (),
    ) -> Dispatch:
        if not riders or not (pool or movable):
            return Dispatch()
        held = {r.id: tuple(r.held) for r in riders if r.held} if self.route_aware else None
        couriers = [r.courier() for r in riders]
        decision = decide_city(
            pool, couriers, now, self.config, self.rules, held=held, declines=declines
        )
        moves: tuple[Move, ...] = ()
        if self.reassigns and movable:
            moves = find_moves(
                decision,
                pool,
                couriers,
                now,
                self.config,
                self.rules,
                held=held,
                movable=movable,
                declines=declines,
            )
        pairs = tuple((a.task, a.worker) for a in decision.assignments)
        return Dispatch(pairs, moves, tick_routes(decision, moves))


class GreedyPolicy:
    """Oldest order first, to the nearest courier that holds nothing."""

    name = "greedy"
    reassigns = False

    def __init__(self, config: CityConfig) -> None:
        self.config = config

    def assign(
        self,
        pool: Sequence[Order],
        riders: Sequence[Rider],
        now: float,
        declines: Declines,
        movable: Sequence[Movable] = (),
    ) -> Dispatch:
        idle = [r for r in riders if not r.held]
        if not pool or not idle:
            return Dispatch()
        cooldown = self.config.decline_cooldown_s
        barred = {(o, c) for o, c, at in declines if at + cooldown > now}
        pickups = np.array([(o.pickup.lat, o.pickup.lon) for o in pool])
        places = np.array([(r.position.lat, r.position.lon) for r in idle])
        distance = pairwise_distance_km(pickups, places)
        taken = np.zeros(len(idle), bool)
        out = []
        for t, order in enumerate(pool):
            row = np.where(taken, np.inf, distance[t])
            for w in np.argsort(row, kind="stable").tolist():
                if taken[w]:
                    break
                if (order.id, idle[w].id) not in barred:
                    taken[w] = True
                    out.append((order.id, idle[w].id))
                    break
            if taken.all():
                break
        return Dispatch(tuple(out))


def policy_for(scenario: Scenario) -> Policy:
    """The policy ``scenario.policy`` names, with the scenario's city settings."""
    config = scenario.city
    if scenario.policy == "greedy":
        return GreedyPolicy(config)
    rules = None
    if scenario.max_tasks_per_tick:
        limit = {"name": "per-tick", "max_tasks": scenario.max_tasks_per_tick}
        rules = Rules.from_mapping({"dequeue": [limit]}, "max_tasks_per_tick")
    if scenario.policy == "bundling":
        km = config.bundle_pickup_km or scenario.bundle_pickup_km
        bundled = dataclasses.replace(config, bundle_pickup_km=km)
        return CityPolicy("bundling", bundled, True, rules)
    unbundled = dataclasses.replace(config, bundle_pickup_km=0.0)
    return CityPolicy(scenario.policy, unbundled, scenario.policy == "routes", rules)
