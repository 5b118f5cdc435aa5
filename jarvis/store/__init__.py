"""store."""

from jarvis.store.workkeys import GlobalWorkKeys, WorkKeys
from jarvis.store.workqueue import Claim, QueuedWork, WorkQueue
from jarvis.store.workrules import EnqueueRules, WorkPolicy

__all__ = [
    "Claim",
    "EnqueueRules",
    "GlobalWorkKeys",
    "QueuedWork",
    "WorkKeys",
    "WorkPolicy",
    "WorkQueue",
]
