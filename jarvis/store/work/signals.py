"""Stuck-work signals of a store, read by its owner's tick for metrics and alerts.

One read-only script (``work_signals.lua``) takes a consistent snapshot:

- ``overdue_s``: how far past its start-by time the most overdue queued item is (0 when
  none is). The start-by time is the queue score: the latest start that still meets the
  item's due time, brought forward by its priority;
- ``queued_overdue``: queued items past their start-by time;
- ``claims_overdue``: claims held longer than their item's expected duration
  (``duration_s``); counted only while the store has at most ``scan`` claims (else -1,
  so a tick never walks an unbounded hash);
- ``dead``: the size of the dead set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from jarvis.errors import StoreError
from jarvis.store.replies import text
from jarvis.store.specs import WORK_SIGNALS
from jarvis.store.work import upkeep
from jarvis.store.work.keys import WorkKeys

if TYPE_CHECKING:
    from jarvis.store.work.queue import WorkQueue

__all__ = ["WorkSignals", "read_signals"]

#: The most claims a signals read looks at one by one.
SCAN_CLAIMS = 2000


class WorkSignals(NamedTuple):
    """See the module docstring."""

    overdue_s: float
    queued_overdue: int
    claims_overdue: int
    dead: int


def read_signals(work: WorkQueue, store: str, scan: int = SCAN_CLAIMS) -> WorkSignals:
    """The store's stuck-work signals now (by ``work.clock``)."""
    keys = WorkKeys(store, work.namespace)
    for _ in range(upkeep.QUEUE_SET_RETRIES):
        reply = work.scripts.run(
            WORK_SIGNALS,
            store,
            {"heads": keys.heads, "claims": keys.claims, "items": keys.items,
             "dead_at": keys.dead_at},
            {"now": float(work.clock()), "scan": int(scan)},
            more_keys=upkeep.store_queues(work, store),
        )  # fmt: skip
        if reply is not None:
            overdue, late, slow, dead = reply
            return WorkSignals(float(text(overdue)), int(late), int(slow), int(dead))
    raise StoreError(f"store {store!r}: its queues kept changing while reading its signals")
