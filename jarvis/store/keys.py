"""Where a partition's state lives in Redis.

Every key of a partition carries the hash tag ``{<partition>}``, so a partition lives in
one Redis Cluster slot and every Lua script touches one slot::

    <namespace>:{<partition>}:<name>

``namespace`` defaults to ``jarvis``; tests use a fresh one each. Global (cross-partition)
keys, such as the store ranking used by remote associates, live under
``<namespace>:global:<name>`` and are never touched by a partition's fenced scripts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jarvis.errors import ValidationError

__all__ = ["DEFAULT_NAMESPACE", "PARTITION_ID", "GlobalKeys", "PartitionKeys", "check_partition_id"]

DEFAULT_NAMESPACE = "jarvis"
#: Partition ids: letters, digits, ``-``, ``_`` and ``.``; 1 to 64 characters.
PARTITION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_partition_id(partition: str) -> str:
    """Return ``partition`` if it is a valid partition id, else raise ValidationError."""
    if not isinstance(partition, str) or not PARTITION_ID.match(partition):
        raise ValidationError(
            f"invalid partition id {partition!r}: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return partition


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    """The keys of one partition. Each property is one key."""

    partition: str
    namespace: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        check_partition_id(self.partition)

    def key(self, name: str) -> str:
        return f"{self.namespace}:{{{self.partition}}}:{name}"

    @property
    def epoch(self) -> str:
        """The highest fencing epoch seen for this partition (decimal string)."""
        return self.key("epoch")

    @property
    def events_in(self) -> str:
        """Stream of incoming events."""
        return self.key("in")

    @property
    def decisions_out(self) -> str:
        """Stream of decisions, each tagged with partition, epoch and tick."""
        return self.key("out")

    @property
    def dead_letter(self) -> str:
        """Stream of events that could not be applied, each with its reason."""
        return self.key("dead")

    @property
    def stats(self) -> str:
        """Hash of counters (fenced commits, dead letters, last tick, ...)."""
        return self.key("stats")


@dataclass(frozen=True, slots=True)
class GlobalKeys:
    """Keys that span partitions (never written by a partition's fenced scripts)."""

    namespace: str = DEFAULT_NAMESPACE

    def key(self, name: str) -> str:
        return f"{self.namespace}:global:{name}"
