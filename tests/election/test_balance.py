"""The balancing plan, as pure functions: fair shares, zones, stickiness, rate limits."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jarvis.election.balance import MemberSlot, MoveLimiter, assign_free, pick_releases, quotas
from jarvis.errors import ConfigError

members_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.booleans()),
    min_size=1,
    max_size=9,
)


def _slots(spec: list[tuple[str, bool]]) -> list[MemberSlot]:
    return [MemberSlot(f"m{i}", zone, draining) for i, (zone, draining) in enumerate(spec)]


@given(partitions=st.integers(0, 300), spec=members_strategy, data=st.data())
def test_quotas_are_fair_within_one_and_zones_get_their_proportional_share(
    partitions: int, spec: list[tuple[str, bool]], data: st.DataObject
) -> None:
    slots = _slots(spec)
    held = {s.member: data.draw(st.integers(0, 50)) for s in slots}
    targets = quotas(partitions, slots, held)
    active = [s for s in slots if not s.draining]
    assert set(targets) == {s.member for s in active}
    if not active:
        return
    assert sum(targets.values()) == partitions
    assert max(targets.values()) - min(targets.values()) <= 1
    for zone in {s.zone for s in active}:
        in_zone = [s.member for s in active if s.zone == zone]
        share = Fraction(partitions * len(in_zone), len(active))
        total = sum(targets[m] for m in in_zone)
        assert math.floor(share) <= total <= math.ceil(share), (zone, total, share)


def test_the_extra_partition_stays_with_the_member_that_holds_it() -> None:
    slots = [MemberSlot("a", "z1"), MemberSlot("b", "z2")]
    assert quotas(3, slots, {"a": 1, "b": 2}) == {"a": 1, "b": 2}
    assert quotas(3, slots, {"a": 2, "b": 1}) == {"a": 2, "b": 1}


def test_the_extra_partitions_go_to_the_zones_with_room() -> None:
    # Zone z1 has two members, z2 and z3 one each: 6 partitions over 4 members means
    # z1 should hold 3, and the other two extras must not both land in z1.
    slots = [MemberSlot("a", "z1"), MemberSlot("b", "z1"), MemberSlot("c", "z2")]
    slots.append(MemberSlot("d", "z3"))
    targets = quotas(6, slots, {"a": 2, "b": 2, "c": 1, "d": 1})
    assert targets["a"] + targets["b"] == 3
    assert sorted(targets.values()) == [1, 1, 2, 2]


def test_a_draining_member_gets_no_quota() -> None:
    slots = [MemberSlot("a", "z1"), MemberSlot("b", "z2", draining=True)]
    assert quotas(4, slots, {"a": 0, "b": 4}) == {"a": 4}


def test_free_partitions_are_spread_evenly_on_a_cold_start() -> None:
    targets = {"a": 20, "b": 20, "c": 20}
    plan = assign_free([f"p{i}" for i in range(60)], targets, {})
    assert sorted(list(plan.values()).count(m) for m in targets) == [20, 20, 20]


def test_a_released_partition_is_planned_for_another_member() -> None:
    # a gave p up (so a is one below its quota) while b is full: p still goes to b.
    plan = assign_free(["p"], {"a": 5, "b": 5}, {"a": 4, "b": 5}, avoid={"p": "a"})
    assert plan == {"p": "b"}
    # Alone in the cluster, the member that gave it up takes it back.
    assert assign_free(["p"], {"a": 1}, {"a": 0}, avoid={"p": "a"}) == {"p": "a"}


def test_free_partitions_go_only_to_members_below_their_quota_first() -> None:
    plan = assign_free(["x", "y"], {"a": 3, "b": 3}, {"a": 3, "b": 1})
    assert plan == {"x": "b", "y": "b"}


def test_releases_prefer_partitions_not_just_acquired() -> None:
    owned = {"old1": 0.0, "old2": 1.0, "new": 99.0}
    assert "new" not in pick_releases(owned, 2, "m", now=100.0, recent=5.0)
    assert set(pick_releases(owned, 3, "m", now=100.0, recent=5.0)) == set(owned)
    assert pick_releases(owned, 0, "m", now=100.0, recent=5.0) == []


def test_move_limiter_allows_a_bounded_number_of_moves_per_interval() -> None:
    now = [0.0]
    limiter = MoveLimiter(3, 1.0, lambda: now[0])
    assert limiter.available() == 3
    limiter.take(3)
    assert limiter.available() == 0
    assert limiter.next_free() == 1.0
    now[0] = 0.5
    assert limiter.available() == 0
    now[0] = 1.0
    assert limiter.available() == 3
    assert limiter.next_free() is None


def test_move_limiter_rejects_nonsense_settings() -> None:
    with pytest.raises(ConfigError):
        MoveLimiter(0, 1.0, lambda: 0.0)
    with pytest.raises(ConfigError):
        MoveLimiter(1, 0.0, lambda: 0.0)
