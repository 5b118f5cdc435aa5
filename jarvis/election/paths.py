"""Where a cluster's ownership lives in ZooKeeper, and the names allowed in it.

::

    /jarvis/<cluster>/members/<member>           ephemeral: zone, host, pid, version, draining
    /jarvis/<cluster>/partitions/<id>            persistent: kind and partition config
    /jarvis/<cluster>/partitions/<id>/owner      ephemeral: member, zone, acquired_at
    /jarvis/<cluster>/drain/<member>             persistent: a request that <member> drain
    /jarvis/<cluster>/placement                  persistent: freeze flag and move requests

A drain request names the session of the member it is meant for, so a request left
behind never drains the next process that reuses the member id.
"""

from __future__ import annotations

from dataclasses import dataclass

from jarvis.models.ids import NAME, check_name

__all__ = ["NAME", "ClusterPaths", "check_name"]


@dataclass(frozen=True, slots=True)
class ClusterPaths:
    """The ZooKeeper paths of one cluster."""

    cluster: str

    def __post_init__(self) -> None:
        check_name(self.cluster, "cluster name")

    @property
    def root(self) -> str:
        return f"/jarvis/{self.cluster}"

    @property
    def members(self) -> str:
        return f"{self.root}/members"

    @property
    def partitions(self) -> str:
        return f"{self.root}/partitions"

    @property
    def drains(self) -> str:
        return f"{self.root}/drain"

    @property
    def placement(self) -> str:
        return f"{self.root}/placement"

    def member(self, member_id: str) -> str:
        return f"{self.members}/{member_id}"

    def partition(self, partition_id: str) -> str:
        return f"{self.partitions}/{partition_id}"

    def owner(self, partition_id: str) -> str:
        return f"{self.partitions}/{partition_id}/owner"

    def drain(self, member_id: str) -> str:
        return f"{self.drains}/{member_id}"

    def partition_of_owner(self, path: str) -> str | None:
        """The partition id of an owner node path, or None if ``path`` is not one."""
        prefix = self.partitions + "/"
        if path.startswith(prefix) and path.endswith("/owner"):
            partition = path[len(prefix) : -len("/owner")]
            if "/" not in partition:
                return partition
        return None
