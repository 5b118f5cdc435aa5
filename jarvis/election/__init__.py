"""Partition ownership in ZooKeeper: membership, leases, epochs, balancing, handoff.

A :class:`Member` registers itself, owns its fair share of the partitions listed in the
:class:`PartitionRegistry`, and tells an :class:`OwnershipListener` what it acquires,
must release, or has lost. :class:`ClusterView` is the read-only picture operators see.
:class:`PlacementControls` hold the operator's freeze and move requests.
:class:`ZkAuth` holds the digest credentials whose ACL protects every node Jarvis
creates; :func:`connect` opens an authenticated client for the registry, the view and the
CLI. A :class:`ConnectionWatchdog` moves a kazoo client off a server that stopped
answering (every member runs one); :func:`connected_server` says which server a client
is on.
"""

from jarvis.election.controls import PlacementControls
from jarvis.election.holdings import DrainOutcome
from jarvis.election.listener import OwnershipListener
from jarvis.election.member import Member
from jarvis.election.nodes import MoveRequest
from jarvis.election.options import MemberOptions
from jarvis.election.partitions import KINDS, PartitionInfo, PartitionKind, PartitionRegistry
from jarvis.election.paths import ClusterPaths
from jarvis.election.security import ZkAuth, connect
from jarvis.election.view import ClusterView, MemberRow, OwnershipRow
from jarvis.election.watchdog import ConnectionWatchdog, connected_server

__all__ = [
    "KINDS",
    "ClusterPaths",
    "ClusterView",
    "ConnectionWatchdog",
    "DrainOutcome",
    "Member",
    "MemberOptions",
    "MemberRow",
    "MoveRequest",
    "OwnershipListener",
    "OwnershipRow",
    "PartitionInfo",
    "PartitionKind",
    "PartitionRegistry",
    "PlacementControls",
    "ZkAuth",
    "connect",
    "connected_server",
]
