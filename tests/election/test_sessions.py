"""Connection trouble: expired sessions, a silent ZooKeeper, owner nodes deleted under us."""

from __future__ import annotations

from kazoo.client import KazooClient

from jarvis.election import ClusterPaths, ClusterView, PartitionRegistry
from jarvis.testing.servers import DevCluster
from tests.election.conftest import Spawn, add_partitions, balanced
from tests.election.recorder import Timeline
from tests.faults import expire_session, wait_for, wait_owned


def test_an_expired_members_partitions_move_and_it_paused_before_losing_them(
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    zk: KazooClient,
    cluster: str,
    timeline: Timeline,
) -> None:
    add_partitions(registry, 30)
    victim = spawn("a", "z1", session_timeout=2.0)
    spawn("b", "z2")
    spawn("c", "z3")
    wait_for(lambda: balanced(view, {"a": 10, "b": 10, "c": 10}), 15, "10 partitions each")
    wait_owned(victim, lambda owned: len(owned) == 10, 5, "a knows it owns 10")
    before = victim.owned()
    timeline.wait_heard("a", before)
    mark = len(timeline.entries())

    expire_session(victim.client)

    paths = ClusterPaths(cluster)

    def taken_over() -> bool:
        for partition_id, epoch in before.items():
            stat = zk.exists(paths.owner(partition_id))
            if stat is None or stat.czxid <= epoch:
                return False
        return True

    # The session timeout bounds the takeover; here the session was closed outright,
    # so the others see the owner nodes go at once.
    wait_for(taken_over, 2.0, "a's partitions owned again, each with a larger epoch")
    after = timeline.entries()[mark:]
    takers = {e.member for e in after if e.call == "acquired" and e.partition in before}
    assert takers & {"b", "c"}, "another member took over"

    def lost_by_a() -> set[str | None]:
        return {
            e.partition for e in timeline.entries()[mark:] if (e.member, e.call) == ("a", "lost")
        }

    timeline.wait_until(lambda: lost_by_a() == set(before), 5, "a told its listener it lost all 10")
    calls = [e.call for e in timeline.entries()[mark:] if e.member == "a"]
    assert calls[0] == "suspended", calls
    assert calls.index("lost") < calls.index("acquired") if "acquired" in calls else True
    # The session was closed outright, not timed out, so the others took over before a
    # heard it was lost; a suspended connection keeps committing (docs/architecture.md),
    # so a could act until its "lost" with its older epochs, which Redis fences
    # (tests/test_fence.py). No other overlap, and no epoch went backwards.
    assert all(o.endswith("while {'a'} held it") for o in timeline.double_ownership())

    # a comes back with a new session: its listener is resumed, and it gets its share
    # again (only through releases by the others, so still one owner at a time).
    wait_for(lambda: balanced(view, {"a": 10, "b": 10, "c": 10}), 15, "balanced again")

    def a_calls() -> list[str]:
        return [e.call for e in timeline.entries()[mark:] if e.member == "a"]

    # ZooKeeper shows a's new owner nodes a moment before a's listener hears of them.
    timeline.wait_until(lambda: "acquired" in a_calls(), 5, "a's listener heard an acquire")
    calls = a_calls()
    assert calls.index("resumed") < calls.index("acquired"), calls
    assert all(o.endswith("while {'a'} held it") for o in timeline.double_ownership())


def test_a_member_steps_down_while_zookeeper_is_silent_before_its_session_can_expire(
    servers: DevCluster,
    spawn: Spawn,
    registry: PartitionRegistry,
    timeline: Timeline,
) -> None:
    add_partitions(registry, 4)
    member = spawn("a", "z1", session_timeout=2.0)
    wait_owned(member, lambda owned: len(owned) == 4, 10, "a owns all 4")
    owned = member.owned()
    timeline.wait_heard("a", owned)
    mark = len(timeline.entries())
    servers.zookeeper.pause()
    try:
        # Nothing comes back from ZooKeeper, and the server cannot expire anything while
        # it is stopped: only the member's own timer can make it let go.
        # The listener hears of each loss after the member forgot the partition.
        def lost() -> set[str | None]:
            return {e.partition for e in timeline.entries()[mark:] if e.call == "lost"}

        timeline.wait_until(lambda: lost() == set(owned), 5, "a stepped down on its own timer")
        assert member.owned() == {}
        assert not any(e.call == "acquired" for e in timeline.entries()[mark:])
    finally:
        servers.zookeeper.resume()
    # Back in touch: the same session re-adopts its owner nodes (nobody else could have
    # taken them), or a new session takes them again with new epochs.
    wait_owned(member, lambda owned: len(owned) == 4, 15, "a owns all 4 again")
    assert all(member.owned()[p] >= owned[p] for p in owned)
    assert timeline.double_ownership() == []


def test_an_owner_node_deleted_by_someone_else_is_lost_then_taken_with_a_larger_epoch(
    spawn: Spawn,
    registry: PartitionRegistry,
    zk: KazooClient,
    cluster: str,
    timeline: Timeline,
) -> None:
    add_partitions(registry, 2)
    member = spawn("a", "z1")
    wait_owned(member, lambda owned: len(owned) == 2, 10, "a owns both")
    epoch = member.owned()["p000"]
    timeline.wait_heard("a", member.owned())
    mark = len(timeline.entries())
    zk.delete(ClusterPaths(cluster).owner("p000"))
    timeline.wait_until(
        lambda: (
            [(e.call, e.partition) for e in timeline.entries()[mark:]][:2]
            == [("lost", "p000"), ("acquired", "p000")]
        ),
        10,
        "p000 lost, then owned again",
    )
    assert member.owned()["p000"] > epoch
    assert member.owned()["p001"] != 0
