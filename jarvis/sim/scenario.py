"""What a simulated day is made of: its settings, validated, from flags or a file.

A :class:`Scenario` holds everything that shapes a day (seed, hours, fleet, demand,
policy, the city's :class:`~jarvis.models.CityConfig`); :func:`load_scenario` reads one
from a YAML or JSON file whose keys are the scenario's fields, with the city's settings
under ``city``::

    seed: 7
    start: "11:00"
    end: "14:00"
    couriers: 40
    orders_per_hour: 90
    policy: bundling
    city: {promise_s: 1800, bundle_pickup_km: 0.5}

Unknown keys and out-of-range values raise :class:`~jarvis.errors.ConfigError` naming them.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from jarvis.errors import ConfigError
from jarvis.models import CityConfig, Vehicle, city_config

__all__ = ["POLICIES", "Scenario", "clock_seconds", "load_scenario", "scenario_from"]

#: The dispatch policies a day can run under (see :mod:`jarvis.sim.policies`).
POLICIES = ("greedy", "slots", "routes", "bundling")


def clock_seconds(text: str) -> float:
    """Seconds after midnight of ``"HH:MM"`` (``"24:00"`` is the end of the day)."""
    try:
        hours, minutes = (int(part) for part in str(text).split(":"))
    except ValueError:
        raise ConfigError(f"not a time of day HH:MM: {text!r}") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ConfigError(f"not a time of day HH:MM: {text!r}")
    return float(hours * 3600 + minutes * 60)


@dataclass(frozen=True)
class Scenario:
    """One simulated day in one city. Times of day are seconds after midnight (UTC)."""

    seed: int = 1
    #: When orders start and stop arriving (couriers finish what they hold after ``end``).
    start_s: float = 10 * 3600.0
    end_s: float = 23 * 3600.0
    #: The fleet; in a day of five hours or more about three in five work at each peak.
    couriers: int = 60
    #: Orders an hour at the top of the lunch and dinner peaks.
    orders_per_hour: float = 90.0
    policy: str = "routes"
    tick_s: float = 30.0
    capacity: int = 2
    vehicle: Vehicle = Vehicle.BIKE
    #: Share of offers a courier declines (decided per order and courier by the seed).
    decline_share: float = 0.05
    restaurants: int = 60
    #: Half the side of the square city, in km.
    radius_km: float = 2.5
    #: Mean preparation time of an order, in seconds.
    prep_mean_s: float = 600.0
    #: Peak shape: demand between the peaks, as a share of the peak rate.
    off_peak_share: float = 0.3
    #: Bundling radius the ``bundling`` policy uses when ``city.bundle_pickup_km`` is 0.
    bundle_pickup_km: float = 0.5
    #: Hours after ``end`` the couriers get to deliver what is left.
    drain_hours: float = 3.0
    #: New orders a courier may take in one tick (the rules' ``max_tasks``); 0: its free
    #: slots. 1 makes the solver cost a courier's second new order from its route, a
    #: tick later, instead of as if the first were not there.
    max_tasks_per_tick: int = 0
    city: CityConfig = field(default_factory=CityConfig)

    def __post_init__(self) -> None:
        numbers = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), int | float)
            and not isinstance(getattr(self, f.name), bool)
        }
        for name, value in numbers.items():
            if not math.isfinite(value):
                raise ConfigError(f"{name}: must be finite, got {value!r}")
        for name in _POSITIVE:
            if numbers[name] <= 0:
                raise ConfigError(f"{name}: must be > 0, got {numbers[name]!r}")
        for name in ("decline_share", "off_peak_share"):
            if not 0.0 <= numbers[name] <= 1.0:
                raise ConfigError(f"{name}: must be between 0 and 1, got {numbers[name]!r}")
        for name in ("bundle_pickup_km", "drain_hours", "seed", "max_tasks_per_tick"):
            if numbers[name] < 0:
                raise ConfigError(f"{name}: must be >= 0, got {numbers[name]!r}")
        if not 0.0 <= self.start_s < self.end_s <= 86400.0:
            raise ConfigError(
                f"start and end: need 00:00 <= start < end <= 24:00, got "
                f"{self.start_s / 3600:.2f} h and {self.end_s / 3600:.2f} h"
            )
        if self.policy not in POLICIES:
            raise ConfigError(f"policy: must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.capacity > 20:
            raise ConfigError(f"capacity: must be at most 20, got {self.capacity!r}")

    def replace(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, **changes)


_POSITIVE: tuple[str, ...] = ("couriers", "orders_per_hour", "tick_s", "capacity")
_POSITIVE += ("restaurants", "radius_km", "prep_mean_s")
_TIME_KEYS = {"start": "start_s", "end": "end_s"}


def scenario_from(data: Mapping[str, Any], base: Scenario | None = None) -> Scenario:
    """``base`` (default: the defaults) with the settings of ``data`` (a parsed file)."""
    base = base or Scenario()
    if not isinstance(data, Mapping):
        raise ConfigError("a scenario file must hold a mapping of settings")
    known = {f.name for f in fields(Scenario)} - {"start_s", "end_s", "city"}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TIME_KEYS:
            changes[_TIME_KEYS[key]] = clock_seconds(value)
        elif key == "hours":
            changes["hours"] = value
        elif key == "city":
            changes["city"] = _city(value, base.city)
        elif key in known:
            changes[key] = _typed(key, value)
        else:
            allowed = sorted(known | set(_TIME_KEYS) | {"hours", "city"})
            raise ConfigError(f"unknown setting {key!r} (known: {', '.join(allowed)})")
    hours = changes.pop("hours", None)
    if hours is not None:
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
            raise ConfigError(f"hours: must be a positive number, got {hours!r}")
        start = changes.get("start_s", base.start_s)
        changes["end_s"] = start + float(hours) * 3600.0
    try:
        return dataclasses.replace(base, **changes)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid scenario: {exc}") from exc


def _typed(key: str, value: Any) -> Any:
    expected = {f.name: f.type for f in fields(Scenario)}[key]
    if key == "vehicle":
        try:
            return Vehicle(value)
        except ValueError:
            names = ", ".join(v.value for v in Vehicle)
            raise ConfigError(f"vehicle: must be one of {names}, got {value!r}") from None
    if key == "policy":
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: must be a number, got {value!r}")
    if expected == "int":
        if value != int(value):
            raise ConfigError(f"{key}: must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def _city(value: Any, base: CityConfig) -> CityConfig:
    if not isinstance(value, Mapping):
        raise ConfigError("city: must be a mapping of CityConfig settings")
    known = {f.name for f in fields(CityConfig)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"city: unknown setting(s) {', '.join(map(repr, unknown))}")
    try:
        given = city_config(value)  # the city's own checks of each value's type
        return dataclasses.replace(base, **{k: getattr(given, k) for k in value})
    except ConfigError as exc:
        raise ConfigError(f"city: {exc}") from exc


def load_scenario(path: str | Path, base: Scenario | None = None) -> Scenario:
    """The scenario of a YAML (``.yaml``/``.yml``) or JSON file, over ``base``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    return scenario_from(data if data is not None else {}, base)
