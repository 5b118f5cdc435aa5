"""The store engine: each tick of a store partition keeps its work queues healthy.

Get-work itself needs no owner (one atomic script, served by any member). An idle store
(no new event, no queued item, no claim) ticks in one round trip: one fenced script
records the tick and nothing else (:mod:`jarvis.store.idle`). Otherwise the owner's tick
does what must happen once per store, each step one fenced script of the store layer
(a deposed owner is refused, FencedError, and writes nothing), with the gate checked
before each:

1. returns lapsed claims to their queues (:meth:`WorkQueue.reap`);
2. applies the store events of its incoming stream in one batch
   (:meth:`WorkEvents.apply`: ``work_submitted`` enqueues, ``work_completed``
   completes; compare-and-set cursor, idempotent by event id, dead letters with their
   reason and epoch, the stream trimmed);
3. in batch mode (partition config ``{"batch": true}``), renews the store's batch-mode
   mark and hands work to the associates waiting for it with the solver (see
   :mod:`jarvis.actors.batch`); first come, first served is the default;
4. refreshes the store's score (fenced) and writes it into the global ranking remote
   associates are served by (a global key, in its own slot, outside the script);
5. records the tick in the out stream, so gaps between ticks can be checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from jarvis import metrics
from jarvis.actors.batch import assign_waiting
from jarvis.actors.engine import TickReport
from jarvis.config import Settings
from jarvis.models.config import StoreConfig
from jarvis.models.rules import Rules
from jarvis.store.city import CityStore
from jarvis.store.idle import IdleProbe, store_idle_call
from jarvis.store.replication import RedisClient
from jarvis.store.runner import ScriptRunner
from jarvis.store.work.batch import WorkBatch
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue

__all__ = ["StoreEngine"]

log = logging.getLogger(__name__)

#: The most incoming events one tick applies.
MAX_EVENTS_PER_TICK = 2000
#: The batch-mode mark outlives this many ticks (so a store whose owner is gone falls
#: back to first come, first served soon after).
BATCH_MARK_TICKS = 3


class StoreEngine:
    """``batch``: decide for waiting associates with the solver each tick (None: no
    batch mode); ``interval`` is the tick interval, which the batch-mode mark outlives."""

    kind = "store"

    def __init__(
        self,
        store: str,
        work: WorkQueue,
        ticks: CityStore,
        *,
        batch: WorkBatch | None = None,
        interval: float = 1.0,
        config: StoreConfig | None = None,
        rules: Rules | None = None,
    ) -> None:
        self.store = store
        self.work = work
        self.events = WorkEvents(work)
        self.ticks = ticks  # its fenced tick marker is shared with cities
        self.batch = batch
        self.interval = interval
        self.config = config or StoreConfig()
        self.rules = rules
        # The score this engine last wrote into the global ranking (None: not yet). An
        # idle tick writes no score, so it is taken only once the ranking says 0.
        self._score: float | None = None
        # The stuck-work signals last exported (None: none yet), so that an idle tick
        # sets the gauges only when they change.
        self._signals: tuple[float, int, int, int] | None = None
        #: The idle check (one round trip), tried once the ranking holds a score of 0.
        self.idle = IdleProbe(
            work.scripts,
            lambda epoch, tick, now: store_idle_call(work, ticks, store, epoch, tick, now),
            enabled=lambda: self.batch is None and self._score == 0.0,
        )

    @classmethod
    def build(
        cls,
        client: RedisClient,
        store: str,
        settings: Settings,
        rules: Rules | None,
        config: Mapping[str, Any] | None = None,
        scripts: ScriptRunner | None = None,
    ) -> StoreEngine:
        """The engine of ``store``; ``config`` is its partition config (``batch``: bool);
        ``scripts`` the member's script runner (its replication policy)."""
        work = WorkQueue(
            client,
            settings.namespace,
            claim_ttl=settings.claim_ttl,
            scripts=scripts,
            max_attempts=settings.work_max_attempts,
        )
        batch = WorkBatch(work) if (config or {}).get("batch") is True else None
        return cls(
            store,
            work,
            CityStore(client, store, settings.namespace, scripts=work.scripts),
            batch=batch,
            interval=settings.tick,
            rules=rules,
        )

    def load(self) -> tuple[int, float | None]:
        return self.ticks.last_tick()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        if not may_commit():
            return TickReport(tick, committed=False)
        if self.idle.enabled():
            idle = self.idle.check(epoch, tick, now)
            if idle is not None:
                self._export_signals(0.0, 0, 0, idle.dead)
                return TickReport(tick, idle=True)
        self.work.reap(self.store, epoch)  # fenced: raises FencedError when deposed
        if not may_commit():
            return TickReport(tick, committed=False)
        applied = self.events.apply(self.store, epoch, MAX_EVENTS_PER_TICK)
        assigned = 0
        if self.batch is not None:
            if not may_commit():
                return _stopped(tick, applied.applied, applied.dead_lettered)
            ttl = BATCH_MARK_TICKS * self.interval + 1.0
            self.batch.set_mode(self.store, epoch, True, ttl)
            claims = assign_waiting(self.batch, self.store, epoch, now, self.config, self.rules)
            assigned = len(claims)
        if not may_commit():
            return _stopped(tick, applied.applied, applied.dead_lettered)
        self._score = self.work.refresh_score(self.store, epoch)
        self.ticks.record_tick(epoch, tick, now)
        counts = self.work.counts(self.store)
        signals = self.work.signals(self.store)
        self._export_signals(
            signals.overdue_s, signals.queued_overdue, signals.claims_overdue, signals.dead
        )
        return TickReport(
            tick=tick,
            applied=applied.applied,
            dead_lettered=applied.dead_lettered,
            open_tasks=counts.get("queued", 0),
            assigned=assigned,
        )

    def _export_signals(self, overdue_s: float, queued: int, claims: int, dead: int) -> None:
        if self._signals == (overdue_s, queued, claims, dead):
            return
        self._signals = (overdue_s, queued, claims, dead)
        metrics.WORK_OVERDUE_SECONDS.labels(self.store).set(overdue_s)
        metrics.WORK_QUEUED_OVERDUE.labels(self.store).set(queued)
        metrics.WORK_CLAIMS_OVERDUE.labels(self.store).set(claims)
        metrics.WORK_DEAD.labels(self.store).set(dead)


def _stopped(tick: int, applied: int, dead: int) -> TickReport:
    log.warning("tick %s: stopping, the member is paused or lost ownership", tick)
    return TickReport(tick, applied, dead, committed=False)
