"""The store engine: each tick of a store partition keeps its work queues healthy.

Get-work itself needs no owner (one atomic script, served by any member). The owner's
tick does what must happen once per store:

1. returns lapsed claims to their queues (fenced: a deposed owner is refused);
2. applies the store events of its incoming stream (``work_submitted`` enqueues,
   ``work_completed`` completes); an event that cannot be applied goes to the
   dead-letter stream with its reason. Enqueue is idempotent by item id, so an event
   replayed after a takeover is harmless;
3. in batch mode (partition config ``{"batch": true}``), renews the store's batch-mode
   mark and hands work to the associates waiting for it with the solver (see
   :mod:`jarvis.store.work.batch`); first come, first served is the default;
4. refreshes the store's score in the global ranking remote associates are served by;
5. records the tick in the out stream (fenced), so gaps between ticks can be checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import redis

from jarvis.actors.engine import TickReport
from jarvis.config import Settings
from jarvis.errors import JarvisError, StoreError
from jarvis.models.config import StoreConfig
from jarvis.models.events import WorkCompleted, WorkSubmitted, parse_event
from jarvis.models.rules import Rules
from jarvis.store.city import CityStore
from jarvis.store.fencing import read_stream, text
from jarvis.store.keys import PartitionKeys
from jarvis.store.work.batch import WorkBatch
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
        self.ticks = ticks  # its fenced tick marker is shared with cities
        self.keys = PartitionKeys(store, work.namespace)
        self.batch = batch
        self.interval = interval
        self.config = config or StoreConfig()
        self.rules = rules

    @classmethod
    def build(
        cls,
        client: redis.Redis,
        store: str,
        settings: Settings,
        rules: Rules | None,
        config: Mapping[str, Any] | None = None,
    ) -> StoreEngine:
        """The engine of ``store``; ``config`` is its partition config (``batch``: bool)."""
        work = WorkQueue(client, settings.namespace, claim_ttl=settings.claim_ttl)
        batch = WorkBatch(work) if (config or {}).get("batch") is True else None
        return cls(
            store,
            work,
            CityStore(client, store, settings.namespace),
            batch=batch,
            interval=settings.tick,
            rules=rules,
        )

    def load(self) -> tuple[int, float | None]:
        return self.ticks.last_tick()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        if not may_commit():
            return TickReport(tick, committed=False)
        self.work.reap(self.store, epoch)  # fenced: raises FencedError when deposed
        applied, dead = self._apply_events()
        assigned = 0
        if self.batch is not None:
            self.batch.set_mode(self.store, True, BATCH_MARK_TICKS * self.interval + 1.0)
            assigned = len(self.batch.assign(self.store, epoch, now, self.config, self.rules))
        self.work.refresh_score(self.store, epoch)
        self.ticks.record_tick(epoch, tick, now)
        counts = self.work.counts(self.store)
        return TickReport(
            tick=tick,
            applied=applied,
            dead_lettered=dead,
            open_tasks=counts.get("queued", 0),
            assigned=assigned,
        )

    def _apply_events(self) -> tuple[int, int]:
        client = self.work.redis
        try:
            cursor = text(client.get(self.keys.cursor) or "")
            entries = read_stream(client, self.keys.events_in, cursor, MAX_EVENTS_PER_TICK)
        except redis.RedisError as exc:
            raise StoreError(f"store {self.store}: reading events failed: {exc}") from exc
        applied = dead = 0
        for entry_id, fields in entries:
            raw: bytes = fields.get(b"event", b"")  # undecoded, see read_stream
            reason = self._apply_one(raw)
            if reason is None:
                applied += 1
            else:
                dead += 1
                client.xadd(
                    self.keys.dead_letter,
                    {
                        "partition": self.store,
                        "stream_id": entry_id,
                        "reason": reason,
                        "event": raw,
                    },
                    maxlen=100_000,
                    approximate=True,
                )
            client.set(self.keys.cursor, entry_id)
        if dead:
            log.warning("store %s: %d event(s) dead-lettered", self.store, dead)
        return applied, dead

    def _apply_one(self, raw: bytes) -> str | None:
        """Apply one raw event; the reason it cannot be applied, or None."""
        try:
            event = parse_event(raw)
            if event.partition != self.store:
                return f"event for partition {event.partition!r} sent to {self.store!r}"
            if isinstance(event, WorkSubmitted):
                if event.item.store != self.store:
                    return f"work item of store {event.item.store!r} sent to {self.store!r}"
                self.work.enqueue(event.item)
            elif isinstance(event, WorkCompleted):
                self.work.complete(self.store, event.item_id, event.associate_id)
            else:
                return f"event type {event.type} does not apply to a store"
        except StoreError:
            raise
        except JarvisError as exc:
            return str(exc)
        return None
