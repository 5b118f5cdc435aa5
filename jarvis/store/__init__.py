"""Redis state of partitions: key layout, fenced Lua scripts, streams in and out."""

from jarvis.store.city import ApplyResult, CitySnapshot, CityStore, CommitResult
from jarvis.store.decisions import Decision, read_decisions
from jarvis.store.keys import DEFAULT_NAMESPACE, GlobalKeys, PartitionKeys, check_partition_id
from jarvis.store.producer import Producer

__all__ = [
    "DEFAULT_NAMESPACE",
    "ApplyResult",
    "CitySnapshot",
    "CityStore",
    "CommitResult",
    "Decision",
    "GlobalKeys",
    "PartitionKeys",
    "Producer",
    "check_partition_id",
    "read_decisions",
]
