"""Operator controls against a real ZooKeeper: freeze, move, pins, version-aware deploys."""

from __future__ import annotations

import time

from kazoo.client import KazooClient

from jarvis.election import ClusterView, MoveRequest, PartitionRegistry, PlacementControls
from tests.election.conftest import Spawn, add_partitions, balanced, counts
from tests.election.recorder import Timeline
from tests.faults import wait_for, wait_owned


def _releases(timeline: Timeline, since: int = 0) -> list[str]:
    return [
        f"{e.member}:{e.partition}"
        for e in timeline.entries()[since:]
        if e.call == "release_requested"
    ]


def test_freeze_stops_voluntary_moves_but_not_failover(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    timeline: Timeline,
    zk: KazooClient,
    cluster: str,
) -> None:
    add_partitions(registry, 6)
    controls = PlacementControls(zk, cluster)
    controls.freeze("test", time.time())
    a = spawn("a", "z1")
    b = spawn("b", "z2")
    # Free partitions are still taken while frozen.
    wait_for(lambda: balanced(view, {"a": 3, "b": 3}), 15, "3 partitions each while frozen")
    kept = wait_owned(b, lambda owned: len(owned) == 3, 5, "b knows it owns 3")
    spawn("c", "z3")
    spawn("d", "z1")
    wait_for(lambda: len(view.members()) == 4, 10, "four members registered")
    assert all(row.frozen for row in view.members())
    # Crash failover still happens: a's partitions go to the newcomers.
    a.stop()
    wait_for(
        lambda: (
            balanced(view, {"b": 3, "c": 2, "d": 1}) or balanced(view, {"b": 3, "c": 1, "d": 2})
        ),
        15,
        "a's partitions taken over by c and d",
    )
    # b, over its share of 2 all along, gave nothing up.
    assert b.owned() == kept
    assert _releases(timeline) == []
    assert timeline.double_ownership() == []

    controls.unfreeze()
    wait_for(lambda: balanced(view, {"b": 2, "c": 2, "d": 2}), 15, "balance resumes: 2 each")
    assert len(_releases(timeline)) == 1
    assert timeline.double_ownership() == []


def test_move_hands_a_partition_to_the_named_member_and_clears_the_request(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    timeline: Timeline,
    zk: KazooClient,
    cluster: str,
) -> None:
    add_partitions(registry, 6)
    members = {m: spawn(m, f"z{i}") for i, m in enumerate("abc")}
    wait_for(lambda: balanced(view, {"a": 2, "b": 2, "c": 2}), 15, "2 partitions each")
    controls = PlacementControls(zk, cluster)
    controls.freeze("a move is not a voluntary move", time.time())
    owners = {row.partition: row for row in view.partitions()}
    partition = min(p for p, row in owners.items() if row.owner == "a")
    mark = len(timeline.entries())
    controls.request_move(partition, MoveRequest(member="c", requested_at=time.time()))
    owned = wait_owned(members["c"], lambda o: partition in o, 10, f"c took {partition}")
    assert owned[partition] > (owners[partition].epoch or 0)
    wait_for(lambda: partition not in controls.read().moves, 10, "the move request removed")
    calls = [(e.member, e.call) for e in timeline.entries()[mark:] if e.partition == partition]
    assert calls == [("a", "release_requested"), ("a", "released"), ("c", "acquired")]
    assert counts(view) == {"a": 1, "b": 2, "c": 3}  # frozen: nothing else moved
    assert timeline.double_ownership() == []


def test_a_pin_is_honoured_and_released_when_its_member_dies(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    timeline: Timeline,
) -> None:
    add_partitions(registry, 4)
    registry.add("pinned", "city", {"pin": {"member": "b"}})
    spawn("a", "z1")
    wait_for(lambda: counts(view) == {"a": 5}, 15, "a alone owns all five")
    b = spawn("b", "z2")
    wait_owned(b, lambda owned: "pinned" in owned, 10, "b took its pinned partition")
    wait_for(lambda: sorted(counts(view).values()) == [2, 3], 15, "shares of 3 and 2")
    row = next(r for r in view.partitions() if r.partition == "pinned")
    assert (row.owner, row.pin) == ("b", "member b")

    b.stop()  # the pinned member dies: the pin no longer holds the partition
    wait_for(lambda: counts(view) == {"a": 5}, 15, "a took everything, the pinned one too")
    b = spawn("b", "z2")
    wait_owned(b, lambda owned: "pinned" in owned, 10, "b back: the pin holds again")
    assert timeline.double_ownership() == []


def test_a_rolling_deploy_to_a_new_version_moves_each_partition_once(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    timeline: Timeline,
) -> None:
    partitions = add_partitions(registry, 12)
    old = {m: spawn(m, f"z{m}", version="1.0") for m in "abc"}
    wait_for(lambda: balanced(view, {"a": 4, "b": 4, "c": 4}), 15, "4 partitions each")
    for name, member in old.items():  # (members started one by one may have moved some)
        owned = wait_owned(member, lambda o: len(o) == 4, 5, f"{name} knows it owns 4")
        timeline.wait_heard(name, owned)
    mark = len(timeline.entries())
    for name, member in old.items():
        # Each new member starts before its old one drains (a surge deploy).
        spawn(f"{name}2", f"z{name}", version="1.1")
        wait_for(lambda: len(view.members()) == 4, 10, f"{name}2 registered")
        assert member.drain(15.0).graceful
        member.stop()
    expected = {"a2": 4, "b2": 4, "c2": 4}
    wait_for(lambda: balanced(view, expected), 15, "4 partitions on each new member")
    timeline.wait_until(
        lambda: len(timeline.acquisitions(mark)) >= 12, 5, "12 acquisitions recorded"
    )
    moved = sorted(e.partition or "" for e in timeline.acquisitions(mark))
    assert moved == partitions  # every partition moved, and exactly once
    assert timeline.double_ownership() == []


def test_weighted_balance_evens_out_weight_not_count_within_the_move_rate(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    timeline: Timeline,
) -> None:
    registry.add("big", "city", {"weight": 4})
    villages = add_partitions(registry, 5)
    spawn("a", "z1", max_moves_per_interval=1)
    wait_for(lambda: counts(view) == {"a": 6}, 15, "a alone owns all six")
    b = spawn("b", "z2", max_moves_per_interval=1)
    # Even weight (5 against 4) is one move: the big city alone to b.
    owned = wait_owned(b, lambda o: "big" in o, 15, "b took the big city")
    assert set(owned) == {"big"}
    wait_for(lambda: counts(view) == {"a": 5, "b": 1}, 15, "a keeps the five villages")
    assert {r.partition for r in view.partitions() if r.owner == "a"} == set(villages)
    assert _releases(timeline) == ["a:big"]
    assert timeline.double_ownership() == []


def test_measured_weights_even_out_load_and_a_moved_partition_keeps_its_weight(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    timeline: Timeline,
) -> None:
    # The open tasks each partition has where it runs (the members sample them).
    open_tasks = {"big": 400.0}
    fast = {"weight_publish_interval": 0.0, "max_moves_per_interval": 1}
    registry.add("big", "city")  # no weight in its config: measured
    villages = add_partitions(registry, 5)
    spawn("a", "z1", loads=lambda: open_tasks, **fast)
    wait_for(lambda: counts(view) == {"a": 6}, 15, "a alone owns all six")
    wait_for(
        lambda: {r.partition: r.weight for r in view.partitions()}["big"] == 4.0,
        15,
        "a measured and published the big city's weight (400 open tasks: 4)",
    )
    b = spawn("b", "z2", loads=lambda: open_tasks, **fast)
    # Even weight (5 against 4) is one move: the big city alone to b.
    owned = wait_owned(b, lambda o: "big" in o, 15, "b took the big city")
    assert set(owned) == {"big"}
    wait_for(lambda: counts(view) == {"a": 5, "b": 1}, 15, "a keeps the five villages")
    assert {r.partition for r in view.partitions() if r.owner == "a"} == set(villages)
    # b measures the big city too, and publishes it: it weighs 4 where it is now.
    wait_for(
        lambda: {m.member: m.weight for m in view.members()} == {"a": 5.0, "b": 4.0},
        15,
        "weights a 5, b 4",
    )
    assert _releases(timeline) == ["a:big"]
    assert timeline.double_ownership() == []


def test_a_lost_zone_is_taken_within_capacity_and_its_return_moves_only_the_excess(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    timeline: Timeline,
) -> None:
    add_partitions(registry, 12)
    members = {m: spawn(m, f"z{i}", max_partitions=5) for i, m in enumerate("abc")}
    wait_for(lambda: balanced(view, {"a": 4, "b": 4, "c": 4}), 15, "4 partitions each")
    before = {m: set(member.owned()) for m, member in members.items()}
    mark = len(timeline.entries())
    members["c"].stop()  # zone z2 is gone
    # The survivors take what they have room for at once; the rest waits, unowned.
    wait_for(lambda: counts(view) == {"a": 5, "b": 5, None: 2}, 15, "5 each, 2 unowned")
    for name in "ab":
        assert before[name] <= set(members[name].owned())  # nothing moved between them
    assert _releases(timeline, mark) == []

    spawn("c2", "z2", max_partitions=5)  # the zone is back
    wait_for(lambda: balanced(view, {"a": 4, "b": 4, "c2": 4}), 15, "4 each again")
    assert sorted(r.split(":")[0] for r in _releases(timeline, mark)) == ["a", "b"]
    assert timeline.double_ownership() == []


def test_a_move_to_a_full_member_waits_until_it_has_room(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    timeline: Timeline,
    zk: KazooClient,
    cluster: str,
) -> None:
    add_partitions(registry, 2)
    a = spawn("a", "z1", max_partitions=1)
    b = spawn("b", "z2")
    wait_for(lambda: balanced(view, {"a": 1, "b": 1}), 15, "one partition each")
    (on_a,) = a.owned()
    (on_b,) = b.owned()
    controls = PlacementControls(zk, cluster)
    controls.request_move(on_b, MoveRequest(member="a", requested_at=time.time()))
    # a is full: b keeps the partition (no handoff that could not land) until a has room.
    controls.request_move(on_a, MoveRequest(member="b", requested_at=time.time()))
    wait_owned(a, lambda o: set(o) == {on_b}, 15, f"a took {on_b} once it had room")
    wait_for(lambda: controls.read().moves == {}, 10, "both move requests removed")
    calls = [(e.member, e.call, e.partition) for e in timeline.entries()]
    # b handed its partition off only once a had made room, and only once.
    assert calls.index(("a", "released", on_a)) < calls.index(("b", "release_requested", on_b))
    assert [c for c in calls if c[1] == "release_requested"] == [
        ("a", "release_requested", on_a),
        ("b", "release_requested", on_b),
    ]
    assert timeline.double_ownership() == []
