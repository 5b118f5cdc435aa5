"""Tunables of the solver for each kind of partition, validated when built."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from jarvis.errors import ConfigError

__all__ = ["CityConfig", "StoreConfig", "city_config"]


def _check(obj: object, positive: tuple[str, ...], non_negative: tuple[str, ...]) -> None:
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value):
            raise ConfigError(f"{type(obj).__name__}.{f.name}: must be finite, got {value!r}")
        if f.name in positive and value <= 0:
            raise ConfigError(f"{type(obj).__name__}.{f.name}: must be > 0, got {value!r}")
        if f.name in non_negative and value < 0:
            raise ConfigError(f"{type(obj).__name__}.{f.name}: must be >= 0, got {value!r}")


@dataclass(frozen=True)
class CityConfig:
    """How a city weighs its deliveries.

    The cost of giving order ``t`` to courier ``w`` is ``weight_t * (x + lateness_weight *
    max(0, x - slack_t))`` where ``x`` is the time from now until the customer has the
    order (to the pickup, wait until ready, to the drop-off), ``slack_t`` the time left
    until ``created_at + promise_s`` and ``weight_t = 1 + priority_weight * priority``.
    Leaving an order for the next tick costs what a delivery in exactly
    ``max_delivery_s`` plus the time it has waited since ``created_at`` would: a new
    order is assigned only to a courier who brings it to the customer sooner than
    ``max_delivery_s``, and every second it waits widens that by a second, so an order
    no courier can deliver that fast is still assigned once it has waited long enough.
    """

    max_delivery_s: float = 2700.0
    promise_s: float = 1800.0
    lateness_weight: float = 1.0
    priority_weight: float = 0.01
    #: Use the large-partition path when both sides have at least this many members
    #: (orders, and couriers' free slots); 0 disables it. See jarvis.models.large.
    large_min_side: int = 1500
    #: Open orders per area in the large-partition path.
    area_tasks: int = 250
    #: How far beyond its area each area looks for couriers, in km.
    area_margin_km: float = 2.0
    #: Bundling (jarvis.models.bundles): two open orders whose pickups lie within this
    #: many km may go to one courier together; 0 (the default) disables bundling.
    bundle_pickup_km: float = 0.0
    #: A bundle's route may be at most this many times the longer of its two trips.
    bundle_detour: float = 1.5
    #: Seconds during which a courier who declined an order is not offered it again.
    decline_cooldown_s: float = 300.0
    #: Keep for each order only its this many cheapest couriers (by the free-courier
    #: cost, a lower bound of the route cost) before routes are costed and the matrix
    #: is solved; 0 (the default) keeps every courier and the decision stays exact.
    #: Exact for free couriers whenever it is at least the number of open orders.
    candidates_per_order: int = 0
    #: Acceptance mode: an assignment is an offer until the courier's ``offer_accepted``
    #: arrives; unanswered after ``offer_timeout_s`` it expires (the order returns to the
    #: pool and the courier gets the decline cooldown for it).
    acceptance: bool = False
    offer_timeout_s: float = 60.0
    #: Reassignment (jarvis.models.reassign): an assigned order not yet picked up moves
    #: to another courier when that lowers its cost (weighted seconds, as above) by
    #: more than ``reassign_min_saving``, at most ``reassign_max`` times per order; 0
    #: (the default) disables it. In acceptance mode only an accepted order moves (an
    #: offer never does), and it moves as an offer to the new courier (see
    #: jarvis.models.reassign).
    reassign_min_saving: float = 300.0
    reassign_max: int = 0

    def __post_init__(self) -> None:
        _check(
            self,
            positive=(
                "max_delivery_s",
                "promise_s",
                "area_tasks",
                "area_margin_km",
                "offer_timeout_s",
            ),
            non_negative=(
                "lateness_weight",
                "priority_weight",
                "large_min_side",
                "bundle_pickup_km",
                "decline_cooldown_s",
                "candidates_per_order",
                "reassign_min_saving",
                "reassign_max",
            ),
        )
        if self.bundle_detour < 1.0:
            raise ConfigError(f"CityConfig.bundle_detour: must be >= 1, got {self.bundle_detour!r}")


def city_config(config: Mapping[str, Any]) -> CityConfig:
    """The :class:`CityConfig` of a city from its partition config (``jarvis partitions
    add ID city --config JSON``): the keys that name a CityConfig field, each of that
    field's type (a whole number is taken where a float is expected); other keys (a pin,
    a weight) belong to placement. ConfigError names a bad value."""
    values: dict[str, Any] = {}
    for f in fields(CityConfig):
        if f.name not in config:
            continue
        value, default = config[f.name], f.default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            kind = {bool: "a boolean", int: "an integer"}.get(type(default), "a number")
            raise ConfigError(f"city config {f.name}: must be {kind}, got {value!r}")
        values[f.name] = float(value) if isinstance(default, float) else value
    return CityConfig(**values)


@dataclass(frozen=True)
class StoreConfig:
    """How a store weighs its work.

    Giving item ``t`` to associate ``w`` costs the associate's time, ``duration_s``
    (plus ``remote_penalty_s`` for a remote associate). Leaving it for later costs
    ``weight_t * (wait_cost_s + lateness_weight * overdue_t)`` where ``overdue_t`` is how
    far ``now + duration_s`` lies past ``due_at`` and ``weight_t = 1 + priority_weight *
    priority``: the solver hands out the work whose waiting costs most per second of
    associate time, and never work that costs more to do than to leave.
    """

    wait_cost_s: float = 86400.0
    lateness_weight: float = 1.0
    priority_weight: float = 0.05
    remote_penalty_s: float = 60.0
    #: Items one associate receives in one decision.
    items_per_associate: int = 1

    def __post_init__(self) -> None:
        _check(
            self,
            positive=("wait_cost_s", "items_per_associate"),
            non_negative=("lateness_weight", "priority_weight", "remote_penalty_s"),
        )
