"""Releases name the ownership they are about: a late answer about an earlier ownership
of a partition cannot delete the owner node of a newer one."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from jarvis.election import ClusterPaths, Member, MemberOptions, PartitionInfo, PartitionRegistry
from tests.election.conftest import FAST
from tests.faults import wait_for, wait_owned

WAIT = 15.0


class Holder:
    """A listener that keeps every release request unanswered until the test answers."""

    def __init__(self) -> None:
        self.requested: list[tuple[str, int]] = []
        self._changed = threading.Condition()

    def wait_requested(self, entry: tuple[str, int]) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: entry in self.requested, WAIT):
                pytest.fail(f"never asked to release {entry}: {self.requested}")

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        pass

    def on_release_requested(self, partition_id: str, epoch: int) -> None:
        with self._changed:
            self.requested.append((partition_id, epoch))
            self._changed.notify_all()

    def on_lost(self, partition_id: str, epoch: int) -> None:
        pass

    def on_suspended(self) -> None:
        pass

    def on_resumed(self) -> None:
        pass


@pytest.fixture
def member(zk_hosts: str, cluster: str, zk: KazooClient) -> Iterator[tuple[Member, Holder]]:
    registry = PartitionRegistry(zk, cluster)
    registry.add("p", "city")
    registry.add("q", "city")
    holder = Holder()
    m = Member(MemberOptions(zk_hosts, cluster, "m1", "z1", **FAST), holder)
    m.start()
    yield m, holder
    m.stop()


def test_a_late_release_done_from_an_earlier_ownership_cannot_delete_the_newer_owner_node(
    member: tuple[Member, Holder], zk: KazooClient, cluster: str
) -> None:
    m, holder = member
    paths = ClusterPaths(cluster)
    owned = wait_owned(m, lambda o: {"p", "q"} <= set(o), WAIT, "m1 owns p and q")
    first, q_epoch = owned["p"], owned["q"]
    m.release("p")
    holder.wait_requested(("p", first))
    # The first ownership ends without a handoff (someone deletes its owner node) while
    # its release is still unanswered; the member takes p again, under a new epoch.
    zk.delete(paths.owner("p"))
    owned = wait_owned(m, lambda o: o.get("p", first) != first, WAIT, "m1 owns p again")
    second = owned["p"]
    m.release("p")
    holder.wait_requested(("p", second))
    m.release("q")
    holder.wait_requested(("q", q_epoch))

    m.release_done("p", first)  # late: about the first ownership
    m.release_done("q", q_epoch)  # queued after it, answered in the same or a later round
    wait_for(lambda: _czxid(zk, paths.owner("q")) != q_epoch, WAIT, "q's owner node deleted")
    assert _czxid(zk, paths.owner("p")) == second, "the newer ownership's owner node is gone"
    assert m.owned()["p"] == second

    m.release_done("p", second)  # the answer about the current ownership does delete it
    wait_for(lambda: _czxid(zk, paths.owner("p")) != second, WAIT, "p's owner node deleted")


def _czxid(zk: KazooClient, path: str) -> int | None:
    """The epoch of the owner node at ``path`` (None: no owner)."""
    stat = zk.exists(path)
    return None if stat is None else int(stat.czxid)
