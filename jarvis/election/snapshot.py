"""A member's cached, watched copy of its cluster: members, partitions and owners.

Only the member's worker thread uses a :class:`Snapshot`. Every read leaves a kazoo
watch behind (children watches on ``members`` and ``partitions``, data watches on each
member node, ``exists`` watches on each owner node, on the member's drain request and on
the cluster's placement controls),
and the watch callback only queues the path for the worker, which then refreshes just
that part. Reads are pipelined (many async requests, then one wait) and bounded by a
timeout, so the worker never hangs on a suspended connection.

kazoo forgets every watch when the connection is suspended, so after reconnecting the
member calls :meth:`Snapshot.refresh_all`, which sets them all again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import WatchedEvent, ZnodeStat

from jarvis.election.nodes import DrainRequest, MemberNode, PartitionNode, PlacementNode, decode
from jarvis.election.partitions import PartitionInfo
from jarvis.election.paths import ClusterPaths

__all__ = ["MemberEntry", "OwnerEntry", "Snapshot", "gather"]

log = logging.getLogger(__name__)

Watch = Callable[[WatchedEvent], None]


@dataclass(frozen=True, slots=True)
class MemberEntry:
    node: MemberNode
    session: int  # the ephemeralOwner of the member node


@dataclass(frozen=True, slots=True)
class OwnerEntry:
    session: int  # the ephemeralOwner of the owner node
    epoch: int  # its czxid
    version: int


def gather(
    results: Sequence[Any],
    timeout: float,
    tolerate: tuple[type[Exception], ...] = (NoNodeError,),
) -> list[Any]:
    """Wait for kazoo async results; each item is a value or the tolerated exception.

    Other exceptions (connection loss, ...) propagate; ``KazooTimeoutError`` is raised
    when the whole batch is not answered within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    out: list[Any] = []
    for result in results:
        try:
            out.append(result.get(timeout=max(0.0, deadline - time.monotonic())))
        except tolerate as exc:
            out.append(exc)
    return out


class Snapshot:
    """What one member currently knows about its cluster."""

    def __init__(
        self,
        client: KazooClient,
        paths: ClusterPaths,
        member_id: str,
        watch: Watch,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self._client = client
        self._paths = paths
        self._member_id = member_id
        self._watch = watch
        self._timeout = timeout
        self._clock = clock
        self.members: dict[str, MemberEntry] = {}
        self.partitions: dict[str, PartitionInfo] = {}
        self.owners: dict[str, OwnerEntry | None] = {}
        self.free_since: dict[str, float] = {}
        #: partition -> the highest epoch seen for it
        self.last_epoch: dict[str, int] = {}
        self.drain_request: DrainRequest | None = None
        #: The operator's placement controls and the data version they were read at
        #: (-1: no node).
        self.placement = PlacementNode()
        self.placement_version = -1
        # What to read again on the next refresh.
        self._stale_all = True
        self._stale_members = False  # the list of members
        self._stale_member_ids: set[str] = set()  # one member's data
        self._stale_partitions = False
        self._stale_owners: set[str] = set()
        self._stale_drain = False
        self._stale_placement = False

    # --- staleness --------------------------------------------------------------------

    def invalidate(self) -> None:
        """Read everything (and set every watch) on the next refresh."""
        self._stale_all = True

    def mark_stale(self, path: str) -> None:
        """A watch fired (or a write failed) on ``path``: read that part again."""
        paths = self._paths
        if path == paths.members:
            self._stale_members = True
        elif path.startswith(paths.members + "/"):
            self._stale_member_ids.add(path[len(paths.members) + 1 :])
        elif path == paths.partitions:
            self._stale_partitions = True
        elif path == paths.drain(self._member_id):
            self._stale_drain = True
        elif path == paths.placement:
            self._stale_placement = True
        else:
            partition_id = paths.partition_of_owner(path)
            if partition_id is not None:
                self._stale_owners.add(partition_id)

    def refresh(self) -> bool:
        """Read again what is stale; True if ZooKeeper answered at least one read.

        A failed read leaves the snapshot invalidated, so the next refresh reads all.
        """
        if self._stale_all:
            self._stale_all = False
            self._stale_members = self._stale_partitions = self._stale_drain = False
            self._stale_placement = False
            self._stale_owners.clear()
            self._stale_member_ids.clear()
            try:
                self.refresh_all()
            except BaseException:
                self._stale_all = True
                raise
            return True
        asked = self._stale_members or self._stale_partitions or self._stale_drain
        asked = asked or self._stale_placement
        asked = asked or bool(self._stale_owners or self._stale_member_ids)
        try:
            if self._stale_members:
                self._stale_members = False
                self._stale_member_ids.clear()
                self.refresh_members()
            if self._stale_partitions:
                self._stale_partitions = False
                self.refresh_partitions()
            if self._stale_owners or self._stale_member_ids:
                owners, self._stale_owners = sorted(self._stale_owners), set()
                members, self._stale_member_ids = sorted(self._stale_member_ids), set()
                self._refresh_nodes(members, owners)
            if self._stale_drain:
                self._stale_drain = False
                self.refresh_drain_request()
            if self._stale_placement:
                self._stale_placement = False
                self.refresh_placement()
        except BaseException:
            self._stale_all = True
            raise
        return asked

    # --- reads ------------------------------------------------------------------------

    def refresh_all(self) -> None:
        self.refresh_members()
        self.refresh_partitions(full=True)
        self.refresh_drain_request()
        self.refresh_placement()

    def refresh_members(self) -> None:
        names = self._client.get_children_async(self._paths.members, watch=self._watch)
        (children,) = gather([names], self._timeout)
        if isinstance(children, NoNodeError):
            children = []
        ids = sorted(children)
        replies = gather(
            [self._client.get_async(self._paths.member(m), watch=self._watch) for m in ids],
            self._timeout,
        )
        members: dict[str, MemberEntry] = {}
        for member_id, reply in zip(ids, replies, strict=True):
            if isinstance(reply, NoNodeError):
                continue
            data, stat = reply
            node = decode(MemberNode, data, self._paths.member(member_id))
            members[member_id] = MemberEntry(node, stat.ephemeralOwner)
        self.members = members

    def refresh_partitions(self, full: bool = False) -> None:
        """Re-list partitions; read the config and owner of new ones (of all if ``full``)."""
        listing = self._client.get_children_async(self._paths.partitions, watch=self._watch)
        (children,) = gather([listing], self._timeout)
        ids = set() if isinstance(children, NoNodeError) else set(children)
        for gone in set(self.partitions) - ids:
            self._forget(gone)
        new = sorted(ids - set(self.partitions))
        replies = gather(
            [self._client.get_async(self._paths.partition(p)) for p in new], self._timeout
        )
        for partition_id, reply in zip(new, replies, strict=True):
            if isinstance(reply, NoNodeError):
                continue
            node = decode(PartitionNode, reply[0], self._paths.partition(partition_id))
            self.partitions[partition_id] = PartitionInfo.from_node(partition_id, node)
        self.refresh_owners(sorted(self.partitions) if full else new)

    def _refresh_nodes(self, member_ids: list[str], partition_ids: list[str]) -> None:
        """Re-read some member nodes and owner nodes, in one pipelined round."""
        owners = [p for p in partition_ids if p in self.partitions]
        requests = [self._client.get_async(self._paths.member(m), self._watch) for m in member_ids]
        requests += [self._client.exists_async(self._paths.owner(p), self._watch) for p in owners]
        replies = gather(requests, self._timeout)
        for member_id, reply in zip(member_ids, replies, strict=False):
            if isinstance(reply, NoNodeError):
                self.members.pop(member_id, None)
            else:
                data, stat = reply
                node = decode(MemberNode, data, self._paths.member(member_id))
                self.members[member_id] = MemberEntry(node, stat.ephemeralOwner)
        for partition_id, stat in zip(owners, replies[len(member_ids) :], strict=True):
            self.set_owner(partition_id, stat if isinstance(stat, ZnodeStat) else None)

    def refresh_owners(self, partition_ids: Iterable[str]) -> None:
        ids = [p for p in partition_ids if p in self.partitions]
        replies = gather(
            [self._client.exists_async(self._paths.owner(p), watch=self._watch) for p in ids],
            self._timeout,
        )
        for partition_id, stat in zip(ids, replies, strict=True):
            self.set_owner(partition_id, stat if isinstance(stat, ZnodeStat) else None)

    def refresh_drain_request(self) -> None:
        path = self._paths.drain(self._member_id)
        (stat,) = gather([self._client.exists_async(path, watch=self._watch)], self._timeout)
        self.drain_request = None
        if isinstance(stat, ZnodeStat):
            (reply,) = gather([self._client.get_async(path)], self._timeout)
            if not isinstance(reply, NoNodeError):
                self.drain_request = decode(DrainRequest, reply[0], path)

    def refresh_placement(self) -> None:
        path = self._paths.placement
        (stat,) = gather([self._client.exists_async(path, watch=self._watch)], self._timeout)
        self.placement, self.placement_version = PlacementNode(), -1
        if isinstance(stat, ZnodeStat):
            (reply,) = gather([self._client.get_async(path)], self._timeout)
            if not isinstance(reply, NoNodeError):
                self.placement = decode(PlacementNode, reply[0], path)
                self.placement_version = reply[1].version

    # --- updates ----------------------------------------------------------------------

    def set_owner(self, partition_id: str, stat: ZnodeStat | None) -> None:
        """Record the owner node's stat (None: no owner), tracking who held it last."""
        before = self.owners.get(partition_id)
        if stat is None:
            self.owners[partition_id] = None
            if before is not None or partition_id not in self.free_since:
                self.free_since[partition_id] = self._clock()
            return
        self.owners[partition_id] = OwnerEntry(stat.ephemeralOwner, stat.czxid, stat.version)
        self.last_epoch[partition_id] = max(stat.czxid, self.last_epoch.get(partition_id, 0))
        self.free_since.pop(partition_id, None)

    def set_member(self, member_id: str, node: MemberNode) -> None:
        """Record a write this member made to its own node (before its watch says so)."""
        entry = self.members.get(member_id)
        if entry is not None:
            self.members[member_id] = MemberEntry(node, entry.session)

    def _forget(self, partition_id: str) -> None:
        self.partitions.pop(partition_id, None)
        self.owners.pop(partition_id, None)
        self.free_since.pop(partition_id, None)
        self.last_epoch.pop(partition_id, None)

    def clear(self) -> None:
        """Forget everything (the session is gone; the next refresh starts over)."""
        self.members.clear()
        self.partitions.clear()
        self.owners.clear()
        self.free_since.clear()
        self.last_epoch.clear()
        self.drain_request = None
        self.placement, self.placement_version = PlacementNode(), -1
        self._stale_all = True

    # --- derived ----------------------------------------------------------------------

    def held(self) -> dict[str, int]:
        """Partitions owned per known member (owners of unknown sessions are left out)."""
        by_session = {entry.session: m for m, entry in self.members.items()}
        counts = dict.fromkeys(self.members, 0)
        for entry in self.owners.values():
            if entry is not None and entry.session in by_session:
                counts[by_session[entry.session]] += 1
        return counts

    def free(self) -> list[str]:
        return sorted(p for p in self.partitions if self.owners.get(p, None) is None)

    def handed_off(self) -> dict[str, str]:
        """Free partitions -> the member that last gave each up on request.

        Read from the members' ``handoffs``: of several, the one naming the highest epoch
        is the latest; a hint older than an ownership this member saw is stale.
        """
        latest: dict[str, tuple[int, str]] = {}
        for member_id, entry in self.members.items():
            for partition_id, epoch in entry.node.handoffs.items():
                if partition_id not in self.partitions or self.owners.get(partition_id):
                    continue  # not a partition, or owned again
                if epoch < self.last_epoch.get(partition_id, 0):
                    continue
                if epoch > latest.get(partition_id, (-1, ""))[0]:
                    latest[partition_id] = (epoch, member_id)
        return {p: m for p, (_, m) in latest.items()}
