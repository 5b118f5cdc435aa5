"""Balancing: how many partitions each member should own, and who takes a free one.

Pure functions over a snapshot of the cluster (no I/O, no clock of their own). Every
member computes the same plan from the same snapshot, so members agree on who takes
what without talking to each other; when their snapshots differ for a moment, the worst
case is a lost race to create an owner node.

- :func:`quotas`: every live, non-draining member gets ``P // n`` or one more; the extra
  ones go to zones in proportion to their members (so no zone holds more than its share
  while another has room), and inside a zone to the members already holding the most
  (sticky: a membership change moves only what it must). A member's quota never
  exceeds its ``capacity`` (its ``max_partitions``): what it cannot take goes to members
  with room, and what no member has room for is in nobody's quota.
- :func:`assign_free`: each free partition goes to the member furthest below its quota,
  skipping the member that just gave it away (a handoff goes to someone else) and any
  member at its capacity (with no room anywhere, the partition stays free).
- :func:`pick_releases`: which of a member's partitions to give up when it is over its
  quota (not the ones it has just taken).
- :class:`MoveLimiter`: at most ``n`` releases per interval, so a restart storm cannot
  thrash.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from jarvis.errors import ConfigError

__all__ = [
    "MemberSlot",
    "MoveLimiter",
    "assign_free",
    "pick_releases",
    "quotas",
    "unplaced",
]


@dataclass(frozen=True, slots=True)
class MemberSlot:
    """A member as the balancer sees it."""

    member: str
    zone: str
    draining: bool = False
    version: str = ""
    #: The most partitions the member takes (None: no limit).
    capacity: int | None = None


def _spread(partition: str, member: str) -> int:
    """A stable pseudo-random tie-break, so ties spread partitions across members."""
    return zlib.crc32(f"{partition}\0{member}".encode())


def quotas(
    partitions: int, members: Iterable[MemberSlot], held: Mapping[str, int]
) -> dict[str, int]:
    """Target partition count per live, non-draining member (draining members get none)."""
    active = sorted((m for m in members if not m.draining), key=lambda m: m.member)
    if not active:
        return {}
    n = len(active)
    base, extra = divmod(partitions, n)
    zones: dict[str, list[MemberSlot]] = {}
    for slot in active:
        zones.setdefault(slot.zone, []).append(slot)

    # Apportion the extras: each zone gets floor or ceil of extra * members_in_zone / n.
    zone_extra = {zone: extra * len(slots) // n for zone, slots in zones.items()}
    left = extra - sum(zone_extra.values())

    def zone_held(zone: str) -> int:
        return sum(held.get(s.member, 0) for s in zones[zone])

    fractional = sorted(
        (zone for zone, slots in zones.items() if extra * len(slots) % n),
        key=lambda zone: (-zone_held(zone), zone),
    )
    for zone in fractional[:left]:
        zone_extra[zone] += 1

    result: dict[str, int] = {}
    for zone, slots in zones.items():
        ranked = sorted(slots, key=lambda s: (-held.get(s.member, 0), s.member))
        for rank, slot in enumerate(ranked):
            result[slot.member] = base + (1 if rank < zone_extra[zone] else 0)
    return _capped(result, {s.member: s.capacity for s in active}, held)


def _capped(
    result: dict[str, int], capacity: Mapping[str, int | None], held: Mapping[str, int]
) -> dict[str, int]:
    """Lower quotas above their member's capacity; give the excess to members with room
    (the lowest quota first, then the most held, then by name), as far as room goes."""
    excess = 0
    for member, cap in capacity.items():
        if cap is not None and result[member] > cap:
            excess += result[member] - cap
            result[member] = cap
    while excess > 0:
        room = [m for m, cap in capacity.items() if cap is None or result[m] < cap]
        if not room:
            break  # more partitions than every member together takes: some stay free
        best = min(room, key=lambda m: (result[m], -held.get(m, 0), m))
        result[best] += 1
        excess -= 1
    return result


def unplaced(targets: Mapping[str, int], members: Iterable[MemberSlot], partitions: int) -> int:
    """How many of ``partitions`` no live, non-draining member has room for (0: none)."""
    active = [m for m in members if not m.draining]
    if any(m.capacity is None for m in active):
        return 0
    return max(0, partitions - sum(targets.values()))


def assign_free(
    free: Iterable[str],
    targets: Mapping[str, int],
    held: Mapping[str, int],
    avoid: Mapping[str, str] | None = None,
    capacity: Mapping[str, int | None] | None = None,
) -> dict[str, str]:
    """Free partition -> the member that should take it.

    Each goes to the member furthest below its target (ties spread by a stable hash),
    never to ``avoid[partition]`` (the member that just released it) while any other
    member is live, and never to a member that holds ``capacity[member]`` already (a
    partition no member has room for is left out of the plan).
    """
    avoid = avoid or {}
    capacity = capacity or {}
    count = {m: held.get(m, 0) for m in targets}

    def has_room(m: str) -> bool:
        cap = capacity.get(m)
        return cap is None or count[m] < cap

    plan: dict[str, str] = {}
    for partition in sorted(free):
        open_ = [m for m in targets if has_room(m)]
        pool = [m for m in open_ if m != avoid.get(partition)] or open_
        if not pool:
            break
        best = min(pool, key=lambda m: (count[m] - targets[m], _spread(partition, m)))
        plan[partition] = best
        count[best] += 1
    return plan


def pick_releases(
    owned: Mapping[str, float], count: int, member: str, now: float, recent: float
) -> list[str]:
    """Which ``count`` of ``owned`` (partition -> acquired at) to give up.

    Partitions acquired within ``recent`` seconds go last (so a partition that was just
    handed to this member is not handed straight back); otherwise the choice is a
    stable hash, so it does not depend on the order things happened in.
    """
    if count <= 0:
        return []
    ranked = sorted(
        owned,
        key=lambda p: (now - owned[p] < recent, _spread(p, member)),
    )
    return ranked[:count]


class MoveLimiter:
    """At most ``limit`` moves in any window of ``interval`` seconds."""

    def __init__(self, limit: int, interval: float, clock: Callable[[], float]) -> None:
        if limit < 1 or interval <= 0:
            raise ConfigError(
                f"max_moves_per_interval must be >= 1 and rebalance_interval > 0, "
                f"not {limit} and {interval}"
            )
        self._limit = limit
        self._interval = interval
        self._clock = clock
        self._moves: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._moves and now - self._moves[0] >= self._interval:
            self._moves.popleft()

    def available(self) -> int:
        """How many moves may start now."""
        self._expire(self._clock())
        return self._limit - len(self._moves)

    def take(self, n: int = 1) -> None:
        """Record ``n`` moves started now (call only for what :meth:`available` allows)."""
        now = self._clock()
        self._moves.extend([now] * n)

    def next_free(self) -> float | None:
        """When the next move becomes available, or None if one is available now."""
        now = self._clock()
        self._expire(now)
        if len(self._moves) < self._limit:
            return None
        return self._moves[0] + self._interval
