"""Declarative rules: enqueue rules qualify a task when it arrives, dequeue rules filter
which worker may take it.

A rules file (TOML) looks like this::

    [[enqueue]]                      # the first rule whose `when` matches wins
    name = "pallets"
    when = { category = ["pallet", "bulk"] }   # attribute = value, or any of a list
    role = "stocker"
    licence = "forklift"             # optional
    remotable = false                # may a remote associate take it (default false)

    [[dequeue]]                      # every rule that applies to a worker must allow
    name = "walkers-short-hops"
    vehicles = ["walk"]              # applies to: couriers on these vehicles ...
    # remote = true                  # ... associates working remotely (or not) ...
    # worker_roles = ["trainee"]     # ... associates holding any of these roles
    max_pickup_km = 2.0              # constraints: straight-line distance to the pickup,
    max_pickup_s = 900               # estimated time to the pickup,
    # min_priority = 10              # lowest task priority taken,
    # task_roles = ["picker"]        # task roles taken,
    # max_tasks = 1                  # tasks taken in one decision (caps free capacity)

A dequeue rule without selectors applies to every worker. The role, licence and
store-bound checks of :func:`jarvis.models.work.may_take` always apply on top. Errors
at load time name the rule (by index and name) and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jarvis.errors import BadInputError, ConfigError
from jarvis.models.city import ID_PATTERN, Courier, Order, Vehicle
from jarvis.models.work import Associate, WorkItem, may_take

__all__ = ["DequeueRule", "EnqueueRule", "Qualification", "Rules", "WorkerLimits", "load_rules"]

Scalar = str | int | float | bool


class EnqueueRule(BaseModel):
    """Derives a task's role, licence and where it may run from its attributes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    when: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    role: str = Field(pattern=ID_PATTERN)
    licence: str | None = Field(default=None, pattern=ID_PATTERN)
    remotable: bool = False

    def matches(self, attributes: Mapping[str, object]) -> bool:
        for key, wanted in self.when.items():
            value = attributes.get(key)
            if isinstance(wanted, list):
                if value not in wanted:
                    return False
            elif value != wanted:
                return False
        return True


class DequeueRule(BaseModel):
    """Limits what the workers it applies to may take."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    vehicles: frozenset[Vehicle] | None = None
    remote: bool | None = None
    worker_roles: frozenset[str] | None = None
    max_pickup_km: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_pickup_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    min_priority: int | None = Field(default=None, ge=0, le=100)
    task_roles: frozenset[str] | None = None
    max_tasks: int | None = Field(default=None, ge=1, le=20)

    @model_validator(mode="after")
    def _limits_something(self) -> DequeueRule:
        limits = (
            self.max_pickup_km,
            self.max_pickup_s,
            self.min_priority,
            self.task_roles,
            self.max_tasks,
        )
        if all(limit is None for limit in limits):
            raise ValueError(
                "a dequeue rule needs at least one of max_pickup_km, max_pickup_s, "
                "min_priority, task_roles, max_tasks"
            )
        return self

    def applies_to(self, worker: Courier | Associate) -> bool:
        if isinstance(worker, Courier):
            if self.remote is not None or self.worker_roles is not None:
                return False
            return self.vehicles is None or worker.vehicle in self.vehicles
        if self.vehicles is not None:
            return False
        if self.remote is not None and worker.remote != self.remote:
            return False
        return self.worker_roles is None or bool(self.worker_roles & worker.roles)


@dataclass(frozen=True)
class Qualification:
    """What an enqueue rule derived for an arriving task."""

    role: str
    licence: str | None
    remotable: bool
    rule: str


@dataclass(frozen=True)
class WorkerLimits:
    """The dequeue rules applying to one worker, folded into one set of limits."""

    max_pickup_km: float = float("inf")
    max_pickup_s: float = float("inf")
    min_priority: int = 0
    task_roles: frozenset[str] | None = None
    max_tasks: int = 20


class _RulesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enqueue: tuple[EnqueueRule, ...] = ()
    dequeue: tuple[DequeueRule, ...] = ()


class Rules:
    """A validated set of enqueue and dequeue rules."""

    def __init__(
        self, enqueue: Sequence[EnqueueRule] = (), dequeue: Sequence[DequeueRule] = ()
    ) -> None:
        self.enqueue = tuple(enqueue)
        self.dequeue = tuple(dequeue)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "rules") -> Rules:
        """Validate parsed rules; a :class:`ConfigError` names the bad rule and field."""
        try:
            parsed = _RulesFile.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ConfigError(f"{source}: {_describe(exc, data)}") from exc
        return cls(parsed.enqueue, parsed.dequeue)

    def qualify(self, attributes: Mapping[str, object]) -> Qualification:
        """The qualification of an arriving task: the first enqueue rule that matches."""
        for rule in self.enqueue:
            if rule.matches(attributes):
                return Qualification(rule.role, rule.licence, rule.remotable, rule.name)
        raise BadInputError(f"no enqueue rule matches the task attributes {dict(attributes)!r}")

    def limits(self, worker: Courier | Associate) -> WorkerLimits:
        """Fold every dequeue rule that applies to ``worker`` into one set of limits."""
        return _fold(rule for rule in self.dequeue if rule.applies_to(worker))

    def refuses_item(self, associate: Associate, item: WorkItem) -> str | None:
        """``None`` if ``associate`` may take ``item``, else the reason (get-work filter)."""
        reason = may_take(associate, item)
        if reason is not None:
            return reason
        for rule in self.dequeue:
            if not rule.applies_to(associate):
                continue
            if rule.min_priority is not None and item.priority < rule.min_priority:
                return f"rule {rule.name!r}: priority below {rule.min_priority}"
            if rule.task_roles is not None and item.role not in rule.task_roles:
                return f"rule {rule.name!r}: role {item.role!r} not taken"
        return None

    def refuses_order(
        self, courier: Courier, order: Order, pickup_km: float, pickup_s: float
    ) -> str | None:
        """``None`` if ``courier`` may take ``order`` at that distance and time, else why."""
        if not courier.online:
            return "courier is offline"
        for rule in self.dequeue:
            if not rule.applies_to(courier):
                continue
            if rule.max_pickup_km is not None and pickup_km > rule.max_pickup_km:
                return f"rule {rule.name!r}: pickup farther than {rule.max_pickup_km} km"
            if rule.max_pickup_s is not None and pickup_s > rule.max_pickup_s:
                return f"rule {rule.name!r}: pickup later than {rule.max_pickup_s} s"
            if rule.min_priority is not None and order.priority < rule.min_priority:
                return f"rule {rule.name!r}: priority below {rule.min_priority}"
        return None


def load_rules(path: str | Path) -> Rules:
    """Read and validate a TOML rules file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rules file: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return Rules.from_mapping(data, source=str(path))


def _fold(rules: Iterable[DequeueRule]) -> WorkerLimits:
    limits = WorkerLimits()
    for rule in rules:
        roles = limits.task_roles
        if rule.task_roles is not None:
            roles = rule.task_roles if roles is None else roles & rule.task_roles
        limits = WorkerLimits(
            max_pickup_km=min(limits.max_pickup_km, rule.max_pickup_km or float("inf")),
            max_pickup_s=min(limits.max_pickup_s, rule.max_pickup_s or float("inf")),
            min_priority=max(limits.min_priority, rule.min_priority or 0),
            task_roles=roles,
            max_tasks=min(limits.max_tasks, rule.max_tasks or 20),
        )
    return limits


def _describe(exc: pydantic.ValidationError, data: Mapping[str, Any]) -> str:
    """Turn pydantic's errors into 'dequeue rule #2 ("walkers"), field max_pickup_km: ...'."""
    parts = []
    for error in exc.errors():
        loc = error["loc"]
        where = ".".join(str(p) for p in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] in ("enqueue", "dequeue") and isinstance(loc[1], int):
            section, index = str(loc[0]), loc[1]
            name = _rule_name(data, section, index)
            field = ".".join(str(p) for p in loc[2:]) or "(whole rule)"
            where = f"{section} rule #{index + 1} ({name}), field {field}"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _rule_name(data: Mapping[str, Any], section: str, index: int) -> str:
    rules = data.get(section)
    if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], Mapping):
        name = rules[index].get("name")
        if isinstance(name, str):
            return repr(name)
    return "unnamed"
