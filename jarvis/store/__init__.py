"""Redis state of partitions: key layout, fenced Lua scripts, streams in and out."""

from jarvis.store.city import (
    EVENT_FIELD,
    ApplyResult,
    CitySnapshot,
    CityStore,
    CommitResult,
    CourierOrder,
)
from jarvis.store.city_commit import ROUTE_CONFLICT
from jarvis.store.dead_letters import DeadLetter, DeadLetters
from jarvis.store.decisions import DecisionRecord, read_decisions
from jarvis.store.idle import (
    IdleCall,
    IdleProbe,
    city_idle_call,
    city_idle_tick,
    store_idle_call,
    store_idle_tick,
)
from jarvis.store.idle_batch import check_many
from jarvis.store.keys import DEFAULT_NAMESPACE, GlobalKeys, PartitionKeys, check_partition_id
from jarvis.store.producer import Producer
from jarvis.store.replication import NO_REPLICATION, RedisClient, Replication
from jarvis.store.replies import read_stream, text
from jarvis.store.runner import ScriptRunner
from jarvis.store.specs import SPECS, ScriptSpec
from jarvis.store.work import (
    Claim,
    EnqueueRules,
    GlobalWorkKeys,
    Head,
    QueuedWork,
    Ticket,
    WorkBatch,
    WorkEvents,
    WorkKeys,
    WorkPolicy,
    WorkQueue,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "EVENT_FIELD",
    "NO_REPLICATION",
    "ROUTE_CONFLICT",
    "SPECS",
    "ApplyResult",
    "CitySnapshot",
    "CityStore",
    "Claim",
    "CommitResult",
    "CourierOrder",
    "DeadLetter",
    "DeadLetters",
    "DecisionRecord",
    "EnqueueRules",
    "GlobalKeys",
    "GlobalWorkKeys",
    "Head",
    "IdleCall",
    "IdleProbe",
    "PartitionKeys",
    "Producer",
    "QueuedWork",
    "RedisClient",
    "Replication",
    "ScriptRunner",
    "ScriptSpec",
    "Ticket",
    "WorkBatch",
    "WorkEvents",
    "WorkKeys",
    "WorkPolicy",
    "WorkQueue",
    "check_many",
    "check_partition_id",
    "city_idle_call",
    "city_idle_tick",
    "read_decisions",
    "read_stream",
    "store_idle_call",
    "store_idle_tick",
    "text",
]
