"""What steers balance besides counting: freeze, moves, pins and versions (pure functions).

:func:`steering` turns the operator's controls (:class:`~jarvis.election.nodes.PlacementNode`),
the partitions' pins and the live members into a :class:`Steering`, which
:class:`~jarvis.election.leases.LeaseKeeper` applies on top of :mod:`jarvis.election.balance`:

- **freeze** (maintenance mode): no voluntary moves (surplus over a quota, pins); free
  partitions are still taken, so crash failover and drains work as usual.
- **move** (``jarvis move``): the owner hands the partition off at once (the drain path,
  not rate-limited, also while frozen) and every member plans it for the named member or
  zone. The member that then owns it there removes the request.
- **pin** (``{"pin": {"member": M}}`` or ``{"pin": {"zone": Z}}`` in the partition's
  config): balance keeps the partition on that member or zone while it is live and not
  draining, at the usual move rate; with no such member the pin is ignored, so failover
  works, and honoured again once one is back.
- **versions**: while live members run more than one version (a rolling deploy), free
  partitions go only to members of the newest version (the one holding fewest first) and
  no member releases a surplus, so a partition leaving an old member lands on a new one
  and stays there: one move per partition per deploy when each new member starts before
  its old one drains.

A preference (move or pin) counts only while some live, non-draining member satisfies it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jarvis.election.balance import MemberSlot, assign_free
from jarvis.election.nodes import MoveRequest, PlacementNode
from jarvis.election.weights import DEFAULT_WEIGHT, assign_free_weighted
from jarvis.errors import BadInputError

__all__ = [
    "Preference",
    "Steering",
    "has_room",
    "misplaced",
    "newest_members",
    "pin_of",
    "place_free",
    "settled",
    "steering",
    "version_key",
]

_VERSION_PART = re.compile(r"\d+|[^\d.+-]+")


@dataclass(frozen=True, slots=True)
class Preference:
    """Where a partition should be: on ``member``, or on a member of ``zone``."""

    member: str | None = None
    zone: str | None = None

    def satisfied_by(self, slot: MemberSlot) -> bool:
        if self.member is not None:
            return slot.member == self.member
        return slot.zone == self.zone

    def __str__(self) -> str:
        return f"member {self.member}" if self.member is not None else f"zone {self.zone}"

    @classmethod
    def of_move(cls, request: MoveRequest) -> Preference:
        return cls(request.member, None if request.member is not None else request.zone)


def pin_of(config: Mapping[str, Any]) -> Preference | None:
    """The pin in a partition's config (``{"pin": {"member": M}}`` or ``{"zone": Z}``).

    Raises BadInputError when ``pin`` is there but is not exactly one non-empty name.
    """
    pin = config.get("pin")
    if pin is None:
        return None
    if isinstance(pin, Mapping) and len(pin) == 1:
        ((key, value),) = pin.items()
        if key in ("member", "zone") and isinstance(value, str) and value:
            return Preference(member=value) if key == "member" else Preference(zone=value)
    raise BadInputError(
        f'invalid pin {pin!r}: use {{"pin": {{"member": "M"}}}} or {{"pin": {{"zone": "Z"}}}}'
    )


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a version string: numbers compare as numbers ("1.10" > "1.9")."""
    return tuple(
        (1, int(part)) if part.isdigit() else (0, part) for part in _VERSION_PART.findall(version)
    )


def newest_members(slots: Iterable[MemberSlot]) -> frozenset[str] | None:
    """While live members run several versions: the non-draining members of the newest
    one (None when all run the same version, or none of the newest can take anything)."""
    slots = list(slots)
    if len({s.version for s in slots}) < 2:
        return None
    newest = max((s.version for s in slots), key=version_key)
    members = frozenset(s.member for s in slots if s.version == newest and not s.draining)
    return members or None


@dataclass(frozen=True, slots=True)
class Steering:
    """The placement rules in force for one plan."""

    frozen: bool = False
    #: Partitions with a preference that some live, non-draining member satisfies.
    preferences: Mapping[str, Preference] = field(default_factory=dict)
    #: Which of those come from a move request (not rate-limited, also while frozen).
    moves: frozenset[str] = frozenset()
    #: Move requests that no live, non-draining member can satisfy (to be removed).
    stale_moves: frozenset[str] = frozenset()
    #: See :func:`newest_members`.
    newest: frozenset[str] | None = None

    @property
    def holds_still(self) -> bool:
        """No surplus is released: frozen, or a rolling deploy is under way."""
        return self.frozen or self.newest is not None


def steering(
    controls: PlacementNode,
    pins: Mapping[str, Preference],
    slots: Iterable[MemberSlot],
) -> Steering:
    """The rules in force, from the controls, the partitions' pins and the live members."""
    slots = list(slots)
    active = [s for s in slots if not s.draining]

    def effective(preference: Preference) -> bool:
        return any(preference.satisfied_by(s) for s in active)

    preferences: dict[str, Preference] = {}
    moves: set[str] = set()
    stale: set[str] = set()
    for partition_id, request in controls.moves.items():
        preference = Preference.of_move(request)
        if effective(preference):
            preferences[partition_id] = preference
            moves.add(partition_id)
        else:
            stale.add(partition_id)
    for partition_id, preference in pins.items():
        if partition_id not in preferences and effective(preference):
            preferences[partition_id] = preference
    return Steering(
        frozen=controls.frozen,
        preferences=preferences,
        moves=frozenset(moves),
        stale_moves=frozenset(stale),
        newest=newest_members(slots),
    )


def misplaced(
    keeping: Iterable[str], me: MemberSlot, steer: Steering
) -> tuple[list[str], list[str]]:
    """Partitions ``me`` keeps that belong elsewhere: (moved, pinned elsewhere), sorted.

    While frozen, pins do not move anything (move requests still do).
    """
    moved: list[str] = []
    pinned: list[str] = []
    for partition_id in sorted(keeping):
        preference = steer.preferences.get(partition_id)
        if preference is None or preference.satisfied_by(me):
            continue
        if partition_id in steer.moves:
            moved.append(partition_id)
        elif not steer.frozen:
            pinned.append(partition_id)
    return moved, pinned


def has_room(preference: Preference, slots: Iterable[MemberSlot], held: Mapping[str, int]) -> bool:
    """Some live, non-draining member satisfying ``preference`` can take one more
    partition (its ``max_partitions`` not reached): handing a partition off towards a
    full member would only bounce it around."""
    return any(
        not s.draining
        and preference.satisfied_by(s)
        and (s.capacity is None or held.get(s.member, 0) < s.capacity)
        for s in slots
    )


def settled(owned: Iterable[str], me: MemberSlot, steer: Steering) -> set[str]:
    """Partitions of ``me`` that sit where their preference wants them (never released
    as surplus, or they would come straight back)."""
    return {
        p
        for p in owned
        if (preference := steer.preferences.get(p)) is not None and preference.satisfied_by(me)
    }


def place_free(
    free: Iterable[str],
    targets: Mapping[str, int],
    held: Mapping[str, int],
    avoid: Mapping[str, str],
    steer: Steering,
    slots: Iterable[MemberSlot],
    weighted: tuple[Mapping[str, float], Mapping[str, float]] | None = None,
) -> dict[str, str]:
    """Free partition -> the member that should take it.

    A partition with a preference goes to the satisfying member furthest below its
    target; the others go as :func:`~jarvis.election.balance.assign_free` plans them
    (or, given ``weighted`` = (partition weights, member loads),
    :func:`~jarvis.election.weights.assign_free_weighted`), among the members of the
    newest version while a rolling deploy is under way. No
    member is planned more than its capacity (``max_partitions``).
    """
    by_id = {s.member: s for s in slots if s.member in targets}
    capacity = {m: s.capacity for m, s in by_id.items()}
    count = {m: held.get(m, 0) for m in targets}
    plan: dict[str, str] = {}
    rest: list[str] = []
    for partition_id in sorted(free):
        preference = steer.preferences.get(partition_id)
        pool = (
            []
            if preference is None
            else [
                m
                for m, s in by_id.items()
                if preference.satisfied_by(s) and (s.capacity is None or count[m] < s.capacity)
            ]
        )
        if not pool:
            rest.append(partition_id)
            continue
        best = min(pool, key=lambda m: (count[m] - targets[m], m))
        plan[partition_id] = best
        count[best] += 1
    newest = steer.newest
    if newest is not None and newest & targets.keys():
        # A deploy under way: fill the new members evenly. Their quotas still count the
        # old members' zones (an old member may hold a zone's extra partition), which
        # would send a partition to a new member already at its share and make it move
        # again once the old members are gone.
        pool_targets = dict.fromkeys(sorted(newest & targets.keys()), 0)
    else:
        pool_targets = dict(targets)
    if weighted is None:
        plan.update(assign_free(rest, pool_targets, count, avoid, capacity))
        return plan
    weights, load = weighted
    carried = {m: load.get(m, 0.0) for m in targets}
    for partition_id, member in plan.items():
        carried[member] += weights.get(partition_id, DEFAULT_WEIGHT)
    room = {m: None if (cap := capacity.get(m)) is None else cap - count[m] for m in targets}
    plan.update(assign_free_weighted(rest, pool_targets, carried, weights, avoid, room))
    return plan
