"""Weighted balance: a huge city and a village do not count the same (pure functions).

A partition's weight is ``weight`` in its config (a number, 0 < w <= 1e6; 1 when absent).
While every weight is 1, balance counts partitions (:mod:`jarvis.election.balance`). As
soon as one differs, members aim at an even share of *weight* instead:

- :func:`assign_free_weighted`: free partitions, heaviest first, each to the live member
  carrying the least weight (never straight back to the member that handed it off).
- :func:`pick_weighted_releases`: a member gives a partition up only if moving it to the
  lightest member makes the pair more even (its weight is below the gap between them),
  the heaviest that does not overshoot the middle (else the one closest to it). Every
  such move lowers the sum of squared loads, so balancing stops; still at the move rate,
  and never the partitions a preference keeps here.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from jarvis.errors import BadInputError

__all__ = [
    "DEFAULT_WEIGHT",
    "MAX_WEIGHT",
    "assign_free_weighted",
    "loads",
    "pick_weighted_releases",
    "uniform",
    "weight_of",
]

DEFAULT_WEIGHT = 1.0
MAX_WEIGHT = 1e6
#: A move must even a pair out by more than this (float sums must not flip-flop).
_EPSILON = 1e-9


def weight_of(config: Mapping[str, Any]) -> float:
    """The ``weight`` in a partition's config (1 when absent); BadInputError if it is
    not a number in (0, 1e6]."""
    weight = config.get("weight", DEFAULT_WEIGHT)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise BadInputError(f"invalid weight {weight!r}: use a number above 0, at most 1e6")
    if not 0 < weight <= MAX_WEIGHT:
        raise BadInputError(f"invalid weight {weight!r}: use a number above 0, at most 1e6")
    return float(weight)


def uniform(weights: Mapping[str, float]) -> bool:
    """Every partition weighs the default (count partitions, as ever)."""
    return all(w == DEFAULT_WEIGHT for w in weights.values())


def loads(
    owners: Mapping[str, str], weights: Mapping[str, float], members: Iterable[str]
) -> dict[str, float]:
    """Weight carried per member (``owners``: partition -> member)."""
    result = dict.fromkeys(members, 0.0)
    for partition_id, member in owners.items():
        if member in result:
            result[member] += weights.get(partition_id, DEFAULT_WEIGHT)
    return result


def _spread(partition: str, member: str) -> int:
    return zlib.crc32(f"{partition}\0{member}".encode())


def assign_free_weighted(
    free: Iterable[str],
    members: Iterable[str],
    load: Mapping[str, float],
    weights: Mapping[str, float],
    avoid: Mapping[str, str] | None = None,
    room: Mapping[str, int | None] | None = None,
) -> dict[str, str]:
    """Free partition -> the member that should take it: heaviest first, each to the
    member carrying the least weight (ties spread by a stable hash) among those with
    ``room`` left (member -> partitions it may still take, None: no limit); a partition
    nobody has room for is left out of the plan."""
    avoid = avoid or {}
    pool_all = sorted(members)
    carried = {m: load.get(m, 0.0) for m in pool_all}
    left = {m: n for m, n in (room or {}).items() if n is not None}  # the limited ones
    plan: dict[str, str] = {}
    for partition_id in sorted(free, key=lambda p: (-weights.get(p, DEFAULT_WEIGHT), p)):
        open_ = [m for m in pool_all if left.get(m, 1) > 0]
        pool = [m for m in open_ if m != avoid.get(partition_id)] or open_
        if not pool:
            break
        best = min(pool, key=lambda m: (carried[m], _spread(partition_id, m)))
        plan[partition_id] = best
        carried[best] += weights.get(partition_id, DEFAULT_WEIGHT)
        if best in left:
            left[best] -= 1
    return plan


def pick_weighted_releases(
    mine: Mapping[str, float],
    my_load: float,
    others: Mapping[str, float],
    count: int,
) -> list[str]:
    """Up to ``count`` of ``mine`` (movable partition -> weight) to give up, each only if
    moving it to the lightest of ``others`` (member -> load) evens the pair out."""
    picks: list[str] = []
    left = dict(mine)
    carried = dict(others)
    while len(picks) < count and left and carried:
        lightest = min(carried, key=lambda m: (carried[m], m))
        gap = my_load - carried[lightest]
        candidates = [p for p, w in left.items() if w < gap - _EPSILON]
        if not candidates:
            break
        # The heaviest that does not overshoot the middle; else the one closest to it.
        below = [p for p in candidates if 2 * left[p] <= gap + _EPSILON]
        if below:
            best = min(below, key=lambda p: (-left[p], p))
        else:
            best = min(candidates, key=lambda p: (abs(gap - 2 * left[p]), p))
        weight = left.pop(best)
        picks.append(best)
        my_load -= weight
        carried[lightest] += weight
    return picks
