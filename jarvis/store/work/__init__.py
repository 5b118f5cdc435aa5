"""The store work dispenser's Redis side: class queues, claims and leases, the associates
directory, batch-mode tickets and the global ranking.

Get-work, complete, release and heartbeat are ownerless (any member, any client, one
atomic script each); what a store's owner does every tick (reap lapsed claims, apply
events, score the store) is fenced by the owner's epoch.
"""

from jarvis.store.work.batch import Ticket, WorkBatch
from jarvis.store.work.keys import GlobalWorkKeys, WorkKeys
from jarvis.store.work.queue import Claim, QueuedWork, WorkQueue
from jarvis.store.work.rules import EnqueueRules, WorkPolicy

__all__ = [
    "Claim",
    "EnqueueRules",
    "GlobalWorkKeys",
    "QueuedWork",
    "Ticket",
    "WorkBatch",
    "WorkKeys",
    "WorkPolicy",
    "WorkQueue",
]
