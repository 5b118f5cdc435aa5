"""The placement rules as pure functions: pins, moves, freeze and versions."""

from __future__ import annotations

import pytest

from jarvis.election.balance import MemberSlot, quotas
from jarvis.election.nodes import MoveRequest, PlacementNode
from jarvis.election.placement import (
    Preference,
    Steering,
    misplaced,
    newest_members,
    pin_of,
    place_free,
    settled,
    steering,
    version_key,
)
from jarvis.election.weights import (
    assign_free_weighted,
    loads,
    pick_weighted_releases,
    uniform,
    weight_of,
)
from jarvis.errors import BadInputError

A = MemberSlot("a", "z1", version="1.0")
B = MemberSlot("b", "z2", version="1.0")
C = MemberSlot("c", "z3", version="1.0")


def test_pins_parse_from_config_and_bad_ones_are_refused() -> None:
    assert pin_of({}) is None
    assert pin_of({"pin": {"member": "a"}}) == Preference(member="a")
    assert pin_of({"pin": {"zone": "z1"}}) == Preference(zone="z1")
    for bad in ({"member": ""}, {"member": "a", "zone": "z"}, {"host": "a"}, "a", {"zone": 3}):
        with pytest.raises(BadInputError, match="invalid pin"):
            pin_of({"pin": bad})


def test_versions_compare_numbers_as_numbers() -> None:
    assert version_key("1.10.0") > version_key("1.9.2")
    assert version_key("2") > version_key("1.99")
    assert version_key("1.0.1") > version_key("1.0.0")
    assert version_key("1.0") == version_key("1.0")


def test_newest_members_only_while_several_versions_are_live() -> None:
    assert newest_members([A, B, C]) is None
    new = MemberSlot("a2", "z1", version="1.1")
    assert newest_members([A, B, C, new]) == frozenset({"a2"})
    # A draining member of the newest version takes nothing.
    assert newest_members([A, MemberSlot("a2", "z1", True, "1.1")]) is None


def test_a_preference_counts_only_while_a_live_member_satisfies_it() -> None:
    request = MoveRequest(member="b", requested_at=1.0)
    gone = MoveRequest(member="x", requested_at=1.0)
    controls = PlacementNode(moves={"p1": request, "p2": gone})
    pins = {"p3": Preference(zone="z3"), "p4": Preference(zone="nowhere"), "p1": Preference("c")}
    steer = steering(controls, pins, [A, B, C])
    # The move outranks the pin of p1; p4's zone has no member; p2's target is gone.
    assert steer.preferences == {"p1": Preference("b"), "p3": Preference(zone="z3")}
    assert steer.moves == {"p1"}
    assert steer.stale_moves == {"p2"}
    assert not steer.holds_still
    # A draining member satisfies nothing: its pin is released.
    steer = steering(PlacementNode(), {"p1": Preference("b")}, [A, MemberSlot("b", "z2", True)])
    assert steer.preferences == {}


def test_misplaced_hands_off_moves_even_while_frozen_but_pins_only_when_not() -> None:
    prefs = {"p1": Preference("b"), "p2": Preference(zone="z2"), "p3": Preference(zone="z1")}
    steer = Steering(preferences=prefs, moves=frozenset({"p1"}))
    assert misplaced(["p1", "p2", "p3", "p4"], A, steer) == (["p1"], ["p2"])
    assert settled(["p1", "p2", "p3", "p4"], A, steer) == {"p3"}
    frozen = Steering(frozen=True, preferences=prefs, moves=frozenset({"p1"}))
    assert misplaced(["p1", "p2", "p3"], A, frozen) == (["p1"], [])
    assert frozen.holds_still


def test_free_partitions_go_to_their_preferred_member_then_by_balance() -> None:
    slots = [A, B, C]
    targets = quotas(6, slots, {})
    steer = Steering(preferences={"p0": Preference("c"), "p1": Preference("c")})
    plan = place_free([f"p{i}" for i in range(6)], targets, {}, {}, steer, slots)
    assert plan["p0"] == plan["p1"] == "c"
    assert sorted(plan.values()) == ["a", "a", "b", "b", "c", "c"]


def test_during_a_rolling_deploy_free_partitions_go_to_the_newest_version() -> None:
    new = MemberSlot("a2", "z1", version="1.1")
    slots = [B, C, new, MemberSlot("a", "z1", True, "1.0")]
    held = {"a": 4, "b": 4, "c": 4, "a2": 0}
    targets = quotas(12, slots, held)
    steer = steering(PlacementNode(), {}, slots)
    assert steer.newest == frozenset({"a2"})
    assert steer.holds_still
    plan = place_free(["p0", "p1", "p2", "p3"], targets, held, {"p0": "a"}, steer, slots)
    assert plan == {"p0": "a2", "p1": "a2", "p2": "a2", "p3": "a2"}


def test_a_rolling_deploy_with_each_new_member_started_first_moves_each_partition_once() -> None:
    """Simulate the plan through a surge deploy of three members: every partition moves
    exactly once, and the new members end up even."""
    owner = {f"p{i:02d}": "abc"[i % 3] for i in range(12)}
    live = {m: MemberSlot(m, f"z{m}", version="1") for m in "abc"}
    moves = 0
    for old in "abc":
        new = old + "2"
        live[new] = MemberSlot(new, f"z{old}", version="2")
        live[old] = MemberSlot(old, f"z{old}", True, "1")  # draining
        slots = list(live.values())
        held = {m: sum(1 for o in owner.values() if o == m) for m in live}
        steer = steering(PlacementNode(), {}, slots)
        free = [p for p, o in owner.items() if o == old]
        plan = place_free(free, quotas(12, slots, held), held, {}, steer, slots)
        for partition, member in plan.items():
            owner[partition] = member
            moves += 1
        del live[old]
    assert moves == 12
    assert sorted(owner.values()) == ["a2"] * 4 + ["b2"] * 4 + ["c2"] * 4


def test_weights_parse_from_config_and_bad_ones_are_refused() -> None:
    assert weight_of({}) == 1.0
    assert weight_of({"weight": 40}) == 40.0
    for bad in (0, -1, "heavy", True, 2e6, None):
        with pytest.raises(BadInputError, match="invalid weight"):
            weight_of({"weight": bad})


def test_weighted_placement_evens_out_weight_not_count() -> None:
    weights = {"big": 4.0, **{f"v{i}": 1.0 for i in range(5)}}
    assert not uniform(weights)
    plan = assign_free_weighted(weights, ["a", "b"], {}, weights)
    carried = loads(plan, weights, ["a", "b"])
    assert sorted(carried.values()) == [4.0, 5.0]
    assert sorted(list(plan.values()).count(m) for m in "ab") == [2, 4]


def test_weighted_releases_only_even_a_pair_out_and_stop() -> None:
    # a carries the big city and three villages (7), b one village (1): the big city
    # would overshoot (3 vs 5), three villages make it 4 vs 4, and then nothing moves.
    mine = {"big": 4.0, "v1": 1.0, "v2": 1.0, "v3": 1.0}
    picks = pick_weighted_releases(mine, 7.0, {"b": 1.0}, count=10)
    assert picks == ["v1", "v2", "v3"]
    assert pick_weighted_releases({"big": 4.0}, 5.0, {"b": 0.0}, count=10) == ["big"]
    assert pick_weighted_releases({"v1": 1.0, "v2": 1.0}, 5.0, {"b": 4.0}, 10) == []
    assert pick_weighted_releases({"v1": 1.0, "v2": 1.0, "v3": 1.0}, 3.0, {"b": 0.0}, 1) == ["v1"]


def test_a_deploy_fills_new_members_evenly_whatever_zone_extras_old_members_hold() -> None:
    """Seen in the failover benchmark: m3 (old, zone c) held a zone extra in the quotas,
    so one of m2's partitions went to m1-new, already at its share, and moved again once
    every member ran the new version."""
    slots = [
        MemberSlot("m1-new", "a", version="2"),
        MemberSlot("m2", "b", True, "1"),
        MemberSlot("m2-new", "b", version="2"),
        MemberSlot("m3", "c", version="1"),
    ]
    held = {"m1-new": 7, "m2": 7, "m2-new": 0, "m3": 6}
    targets = quotas(20, slots, held)
    assert targets["m2-new"] == 6  # the quota alone would leave one of m2's seven over
    steer = steering(PlacementNode(), {}, slots)
    plan = place_free([f"p{i}" for i in range(7)], targets, held, {}, steer, slots)
    assert set(plan.values()) == {"m2-new"}


def test_weighted_placement_skips_members_without_room() -> None:
    weights = {"big": 4.0, "v1": 1.0, "v2": 1.0}
    plan = assign_free_weighted(weights, ["a", "b"], {"a": 0.0, "b": 9.0}, weights, None, {"a": 1})
    assert plan == {"big": "a", "v1": "b", "v2": "b"}
    assert assign_free_weighted(["v1"], ["a"], {}, weights, None, {"a": 0}) == {}
