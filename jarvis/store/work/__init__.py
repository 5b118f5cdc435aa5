"""The store work dispenser's Redis side: class queues, claims and leases, the associates
directory, batch-mode tickets and the global ranking.

Get-work, complete, release and heartbeat are ownerless (any member, any client, one
atomic script each); what a store's owner does every tick (reap lapsed claims, apply
events, batch-mode claims and mark, score the store) is one fenced script each. Items
that use up their attempts wait in the store's dead set (:mod:`jarvis.store.work.dead`).
The global view of which stores need help most is :mod:`jarvis.store.work.ranking`.
"""

from jarvis.store.work.batch import Head, Ticket, WorkBatch
from jarvis.store.work.dead import DeadItem
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.keys import GlobalWorkKeys, WorkKeys
from jarvis.store.work.queue import Claim, QueuedWork, WorkQueue
from jarvis.store.work.ranking import FORMULA, RankingWeights, StoreNeed, store_needs
from jarvis.store.work.rules import EnqueueRules, WorkPolicy

__all__ = [
    "FORMULA",
    "Claim",
    "DeadItem",
    "EnqueueRules",
    "GlobalWorkKeys",
    "Head",
    "QueuedWork",
    "RankingWeights",
    "StoreNeed",
    "Ticket",
    "WorkBatch",
    "WorkEvents",
    "WorkKeys",
    "WorkPolicy",
    "WorkQueue",
    "store_needs",
]
