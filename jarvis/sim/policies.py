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
``CityConfig.decline_cooldown_s``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from jarvis.models import CityConfig, Order, decide_city, pairwise_distance_km
from jarvis.sim.couriers import Rider
from jarvis.sim.scenario import Scenario

__all__ = ["CityPolicy", "GreedyPolicy", "Policy", "policy_for"]

Declines = Sequence[tuple[str, str, float]]


class Policy(Protocol):
    """Decides one tick: (order id, courier id) pairs among ``pool`` and ``riders``
    (online couriers in their shift with a free slot)."""

    name: str

    def assign(
        self, pool: Sequence[Order], riders: Sequence[Rider], now: float, declines: Declines
    ) -> list[tuple[str, str]]: ...


class CityPolicy:
    """The city's own decision code, :func:`jarvis.models.decide_city`."""

    def __init__(self, name: str, config: CityConfig, route_aware: bool) -> None:
        self.name = name
        self.config = config
        self.route_aware = route_aware

    def assign(
        self, pool: Sequence[Order], riders: Sequence[Rider], now: float, declines: Declines
    ) -> list[tuple[str, str]]:
        if not pool or not riders:
            return []
        held = {r.id: tuple(r.held) for r in riders if r.held} if self.route_aware else None
        decision = decide_city(
            pool,
            [r.courier() for r in riders],
            now,
            self.config,
            held=held,
            declines=declines,
        )
        return [(a.task, a.worker) for a in decision.assignments]


class GreedyPolicy:
    """Oldest order first, to the nearest courier that holds nothing."""

    name = "greedy"

    def __init__(self, config: CityConfig) -> None:
        self.config = config

    def assign(
        self, pool: Sequence[Order], riders: Sequence[Rider], now: float, declines: Declines
    ) -> list[tuple[str, str]]:
        idle = [r for r in riders if not r.held]
        if not pool or not idle:
            return []
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
        return out


def policy_for(scenario: Scenario) -> Policy:
    """The policy ``scenario.policy`` names, with the scenario's city settings."""
    config = scenario.city
    if scenario.policy == "greedy":
        return GreedyPolicy(config)
    if scenario.policy == "bundling":
        km = config.bundle_pickup_km or scenario.bundle_pickup_km
        return CityPolicy("bundling", dataclasses.replace(config, bundle_pickup_km=km), True)
    unbundled = dataclasses.replace(config, bundle_pickup_km=0.0)
    return CityPolicy(scenario.policy, unbundled, scenario.policy == "routes")
