"""A read-only view of a cluster's ownership, for the CLI and the HTTP API.

Reads everything in a few pipelined rounds (no watches), so one call costs a handful of
round trips whatever the number of partitions. Every row says whether the cluster is
frozen (``jarvis freeze``); a partition row also shows its pin and a pending move.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from jarvis.election.controls import PlacementControls
from jarvis.election.nodes import (
    DrainRequest,
    MemberNode,
    OwnerNode,
    PartitionKind,
    PartitionNode,
    PlacementNode,
    decode,
    encode,
)
from jarvis.election.paths import ClusterPaths, check_name
from jarvis.election.placement import Preference, pin_of
from jarvis.election.snapshot import gather
from jarvis.election.weights import DEFAULT_WEIGHT, weight_of
from jarvis.errors import BadInputError, ElectionError

__all__ = ["ClusterView", "MemberRow", "OwnershipRow"]

_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class OwnershipRow:
    """One partition and its owner (``owner`` to ``since`` None when unowned); ``pin``
    and ``moving_to`` read ``member M`` or ``zone Z`` (None when there is none);
    ``weight`` is the one in its config, else what its owner measured, else 1."""

    partition: str
    kind: PartitionKind
    owner: str | None
    zone: str | None
    epoch: int | None
    since: float | None  # unix seconds
    pin: str | None = None
    moving_to: str | None = None
    frozen: bool = False
    weight: float = DEFAULT_WEIGHT

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One live member, how many partitions it owns and their total weight."""

    member: str
    zone: str
    partitions: int
    draining: bool
    version: str
    host: str
    pid: int
    frozen: bool = False
    max_partitions: int | None = None
    weight: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ClusterView:
    """What a cluster looks like in ZooKeeper right now."""

    def __init__(self, client: KazooClient, cluster: str) -> None:
        self._client = client
        self._paths = ClusterPaths(cluster)
        self._controls = PlacementControls(client, cluster)

    def controls(self) -> PlacementNode:
        """The operator's placement controls (freeze, pending moves)."""
        return self._controls.read()

    def _children(self, path: str) -> list[str]:
        try:
            return sorted(self._client.get_children(path))
        except NoNodeError:
            return []

    def _read(self, paths: list[str]) -> list[tuple[bytes, Any] | None]:
        replies = gather([self._client.get_async(p) for p in paths], _TIMEOUT)
        return [None if isinstance(r, NoNodeError) else r for r in replies]

    def partitions(self) -> list[OwnershipRow]:
        """Every registered partition with its owner, sorted by partition id."""
        try:
            ids = self._children(self._paths.partitions)
            nodes = self._read([self._paths.partition(p) for p in ids])
            owners = self._read([self._paths.owner(p) for p in ids])
        except (KazooException, KazooTimeoutError) as exc:
            raise ElectionError(f"cannot read partitions: {exc!r}") from exc
        controls = self.controls()
        measured = self._measured(ids, owners)
        rows = []
        for partition_id, node, owner in zip(ids, nodes, owners, strict=True):
            if node is None:
                continue  # removed while we read
            info = decode(PartitionNode, node[0], self._paths.partition(partition_id))
            move = controls.moves.get(partition_id)
            pin = _pin_text(info.config)
            weight = _row_weight(info.config, measured.get(partition_id))
            moving_to = None if move is None else str(Preference.of_move(move))
            if owner is None:
                rows.append(
                    OwnershipRow(
                        partition_id,
                        info.kind,
                        None,
                        None,
                        None,
                        None,
                        pin,
                        moving_to,
                        controls.frozen,
                        weight,
                    )
                )
                continue
            data, stat = owner
            lease = decode(OwnerNode, data, self._paths.owner(partition_id))
            rows.append(
                OwnershipRow(
                    partition_id,
                    info.kind,
                    lease.member,
                    lease.zone,
                    stat.czxid,
                    lease.acquired_at,
                    pin,
                    moving_to,
                    controls.frozen,
                    weight,
                )
            )
        return rows

    def _measured(self, ids: list[str], owners: list[tuple[bytes, Any] | None]) -> dict[str, float]:
        """Partition -> the weight its owner measured (from the owners' member nodes)."""
        owner_of = {
            p: decode(OwnerNode, owner[0], self._paths.owner(p)).member
            for p, owner in zip(ids, owners, strict=True)
            if owner is not None
        }
        members = sorted(set(owner_of.values()))
        try:
            nodes = self._read([self._paths.member(m) for m in members])
        except (KazooException, KazooTimeoutError) as exc:
            raise ElectionError(f"cannot read members: {exc!r}") from exc
        loads = {
            m: decode(MemberNode, node[0], self._paths.member(m)).loads
            for m, node in zip(members, nodes, strict=True)
            if node is not None
        }
        return {p: loads[m][p] for p, m in owner_of.items() if m in loads and p in loads[m]}

    def members(self) -> list[MemberRow]:
        """Every live member with its partition count, sorted by member id."""
        try:
            ids = self._children(self._paths.members)
            nodes = self._read([self._paths.member(m) for m in ids])
        except (KazooException, KazooTimeoutError) as exc:
            raise ElectionError(f"cannot read members: {exc!r}") from exc
        counts: dict[str, int] = {}
        weights: dict[str, float] = {}
        frozen = self.controls().frozen
        for row in self.partitions():
            if row.owner is not None:
                counts[row.owner] = counts.get(row.owner, 0) + 1
                weights[row.owner] = weights.get(row.owner, 0.0) + row.weight
        rows = []
        for member_id, node in zip(ids, nodes, strict=True):
            if node is None:
                continue
            info = decode(MemberNode, node[0], self._paths.member(member_id))
            rows.append(
                MemberRow(
                    member_id,
                    info.zone,
                    counts.get(member_id, 0),
                    info.draining,
                    info.version,
                    info.host,
                    info.pid,
                    frozen,
                    info.max_partitions,
                    weights.get(member_id, 0.0),
                )
            )
        return rows

    def request_drain(self, member_id: str, requested_at: float) -> None:
        """Ask a live member to give all its partitions away (it keeps running).

        The request names the member's current session, so it never applies to a later
        process with the same id. Unknown members raise BadInputError.
        """
        check_name(member_id, "member id")
        path = self._paths.drain(member_id)
        try:
            stat = self._client.exists(self._paths.member(member_id))
            if stat is None:
                raise BadInputError(f"no live member {member_id!r}")
            data = encode(DrainRequest(session=stat.ephemeralOwner, requested_at=requested_at))
            try:
                self._client.create(path, data, makepath=True)
            except NodeExistsError:
                self._client.set(path, data)
        except (KazooException, KazooTimeoutError) as exc:
            raise ElectionError(f"cannot ask {member_id!r} to drain: {exc!r}") from exc


def _row_weight(config: Any, measured: float | None) -> float:
    """The weight balance uses: the config's (1 if malformed), else the measured one."""
    if "weight" in config:
        try:
            return weight_of(config)
        except BadInputError:
            return DEFAULT_WEIGHT
    return DEFAULT_WEIGHT if measured is None else measured


def _pin_text(config: Any) -> str | None:
    try:
        pin = pin_of(config)
    except BadInputError:
        return "invalid"
    return None if pin is None else str(pin)
