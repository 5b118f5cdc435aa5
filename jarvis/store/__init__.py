"""Redis state of partitions: key layout, fenced Lua scripts, streams in and out."""

from jarvis.store.city import ApplyResult, CitySnapshot, CityStore, CommitResult
from jarvis.store.decisions import DecisionRecord, read_decisions
from jarvis.store.fencing import read_stream, text
from jarvis.store.keys import DEFAULT_NAMESPACE, GlobalKeys, PartitionKeys, check_partition_id
from jarvis.store.producer import Producer
from jarvis.store.work import (
    Claim,
    EnqueueRules,
    GlobalWorkKeys,
    QueuedWork,
    Ticket,
    WorkBatch,
    WorkKeys,
    WorkPolicy,
    WorkQueue,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "ApplyResult",
    "CitySnapshot",
    "CityStore",
    "Claim",
    "CommitResult",
    "DecisionRecord",
    "EnqueueRules",
    "GlobalKeys",
    "GlobalWorkKeys",
    "PartitionKeys",
    "Producer",
    "QueuedWork",
    "Ticket",
    "WorkBatch",
    "WorkKeys",
    "WorkPolicy",
    "WorkQueue",
    "check_partition_id",
    "read_decisions",
    "read_stream",
    "text",
]
