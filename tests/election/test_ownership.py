"""Members share partitions fairly, across zones, and move only what they must."""

from __future__ import annotations

import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl, make_digest_acl

from jarvis.election import ClusterPaths, ClusterView, Member, MemberOptions, PartitionRegistry
from jarvis.errors import ElectionError
from tests.election.conftest import Spawn, add_partitions, balanced
from tests.election.recorder import Timeline
from tests.faults import wait_for, wait_owned


def _p000(owned: dict[str, int]) -> bool:
    return "p000" in owned


def _start_together(spawn: Spawn, specs: list[tuple[str, str]]) -> list[Member]:
    members: dict[str, Member] = {}
    lock = threading.Lock()

    def start(member_id: str, zone: str) -> None:
        member = spawn(member_id, zone)
        with lock:
            members[member_id] = member

    threads = [threading.Thread(target=start, args=spec) for spec in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [members[member_id] for member_id, _ in specs]


def test_three_members_in_three_zones_share_sixty_partitions_with_one_owner_each(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    zk: KazooClient,
    cluster: str,
    timeline: Timeline,
) -> None:
    ids = add_partitions(registry, 60)
    members = _start_together(spawn, [("a", "z1"), ("b", "z2"), ("c", "z3")])
    wait_for(lambda: balanced(view, {"a": 20, "b": 20, "c": 20}), 15, "20 partitions each")

    paths = ClusterPaths(cluster)
    for member in members:
        for partition_id, epoch in member.owned().items():
            _, stat = zk.get(paths.owner(partition_id))
            assert stat.czxid == epoch
            assert stat.ephemeralOwner == member.client.client_id[0]
    owned_sets = [set(m.owned()) for m in members]
    assert set.union(*owned_sets) == set(ids)
    assert sum(len(s) for s in owned_sets) == 60
    zones = {row.zone for row in view.partitions()}
    assert zones == {"z1", "z2", "z3"}
    # Started together, nobody took more than its share first: no partition moved.
    timeline.wait_until(lambda: len(timeline.acquisitions()) >= 60, 5, "60 acquisitions recorded")
    assert len(timeline.acquisitions()) == 60
    assert timeline.double_ownership() == []


def test_a_joining_member_and_a_drain_move_only_the_partitions_they_must(
    spawn: Spawn, registry: PartitionRegistry, view: ClusterView, timeline: Timeline
) -> None:
    add_partitions(registry, 60)
    spawn("a", "z1")
    spawn("b", "z2")
    spawn("c", "z3")
    wait_for(lambda: balanced(view, {"a": 20, "b": 20, "c": 20}), 15, "20 partitions each")
    timeline.wait_until(lambda: len(timeline.acquisitions()) == 60, 5, "60 acquisitions recorded")

    mark = len(timeline.entries())
    joiner = spawn("d", "z1")
    wait_for(lambda: balanced(view, {"a": 15, "b": 15, "c": 15, "d": 15}), 15, "15 each")
    wait_owned(joiner, lambda owned: len(owned) == 15, 5, "the joiner knows it owns 15")
    timeline.wait_until(lambda: len(timeline.acquisitions(mark)) >= 15, 5, "15 acquisitions")
    moved = timeline.acquisitions(mark)
    assert len(moved) == 15
    assert {e.member for e in moved} == {"d"}
    lost = [e for e in timeline.entries()[mark:] if e.call == "lost"]
    assert lost == []

    mark = len(timeline.entries())
    assert joiner.drain(10.0).graceful
    assert joiner.draining
    assert joiner.owned() == {}
    wait_for(lambda: balanced(view, {"a": 20, "b": 20, "c": 20}), 15, "20 each again")
    timeline.wait_until(lambda: len(timeline.acquisitions(mark)) >= 15, 5, "15 acquisitions")
    moved = timeline.acquisitions(mark)
    assert len(moved) == 15
    assert sorted(e.member for e in moved) == ["a"] * 5 + ["b"] * 5 + ["c"] * 5
    rows = {r.member: r for r in view.members()}
    assert rows["d"].draining
    assert rows["d"].partitions == 0
    assert timeline.double_ownership() == []


def test_release_hands_a_partition_to_another_member_with_a_larger_epoch(
    spawn: Spawn, registry: PartitionRegistry, view: ClusterView, timeline: Timeline
) -> None:
    add_partitions(registry, 1)
    members = {m.member_id: m for m in (spawn("a", "z1"), spawn("b", "z2"))}
    (first, *_) = timeline.wait_until(timeline.acquisitions, 10, "p000 owned")
    owner = members[first.member]
    epochs = []
    for _ in range(4):
        epochs.append(owner.owned()["p000"])
        other = next(m for m in members.values() if m is not owner)
        owner.release("p000")
        wait_owned(other, _p000, 10, "the other member took it")
        owner = other
    epochs.append(owner.owned()["p000"])
    assert epochs == sorted(epochs)
    assert len(set(epochs)) == len(epochs)
    assert timeline.double_ownership() == []


def test_new_partitions_are_taken_at_once_and_removed_ones_are_dropped(
    spawn: Spawn, registry: PartitionRegistry, view: ClusterView, timeline: Timeline
) -> None:
    add_partitions(registry, 2)
    member = spawn("a", "z1")
    wait_owned(member, lambda owned: len(owned) == 2, 10, "both partitions owned")
    registry.add("late", "store")
    wait_owned(member, lambda owned: "late" in owned, 10, "the new partition owned")
    registry.remove("p000")
    timeline.wait_until(
        lambda: any(e.call == "lost" and e.partition == "p000" for e in timeline.entries()),
        10,
        "the removed partition dropped",
    )
    assert "p000" not in member.owned()
    assert member.wait_owned(_p000, 0.2) is None, "a removed partition is not taken again"
    assert {r.partition for r in view.partitions()} == {"p001", "late"}


def test_a_member_id_held_by_a_live_session_cannot_be_registered_twice(
    spawn: Spawn, zk_hosts: str, cluster: str
) -> None:
    spawn("a", "z1")
    twin = Member(MemberOptions(zk_hosts, cluster, "a", "z2", session_timeout=3.0))
    with pytest.raises(ElectionError, match="another live session"):
        twin.start(timeout=1.0)


def test_auth_data_and_default_acl_protect_what_a_member_writes(
    spawn: Spawn, zk: KazooClient, cluster: str, registry: PartitionRegistry
) -> None:
    add_partitions(registry, 1)
    # Anyone may read (so the test can look); only "jarvis" may change anything.
    acl = [make_digest_acl("jarvis", "secret", all=True), make_acl("world", "anyone", read=True)]
    member = spawn(
        "a", "z1", recorded=False, auth_data=[("digest", "jarvis:secret")], default_acl=acl
    )
    wait_owned(member, _p000, 10, "a owns p000")
    paths = ClusterPaths(cluster)
    for path in (paths.member("a"), paths.owner("p000")):
        acls, _ = zk.get_acls(path)  # the server masks the digest from other readers
        assert [(a.id.scheme, a.perms) for a in acls] == [(a.id.scheme, a.perms) for a in acl]
        with pytest.raises(NoAuthError):
            zk.set(path, b"{}")
