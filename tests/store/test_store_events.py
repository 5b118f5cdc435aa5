"""A store's incoming events, applied by its owner's tick against a real Redis as a
city's are: fenced, idempotent by event id, with a compare-and-set cursor, dead letters
that carry the epoch, and an incoming stream that stays bounded."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from jarvis.actors.store import StoreEngine
from jarvis.errors import FencedError, StoreError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.city import CityStore
from jarvis.store.keys import PartitionKeys
from jarvis.store.producer import Producer
from jarvis.store.replies import stream_entries
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue
from tests.store.builders import event

STORE = "s1"
NOW = 1_700_000_000.0


def _engine(rds: redis.Redis, namespace: str, clock: Callable[[], float]) -> StoreEngine:
    work = WorkQueue(rds, namespace, clock=clock, claim_ttl=600)
    return StoreEngine(STORE, work, CityStore(rds, STORE, namespace))


def _dead(rds: redis.Redis, namespace: str) -> list[dict[str, str]]:
    entries = rds.xrange(PartitionKeys(STORE, namespace).dead_letter)
    return [fields for _, fields in stream_entries(entries)]


def test_a_resubmitted_work_completed_is_applied_once_and_not_dead_lettered(
    rds: redis.Redis, namespace: str
) -> None:
    engine = _engine(rds, namespace, lambda: NOW)
    producer = Producer(rds, namespace)
    engine.work.register_associate(
        Associate(id="a1", home_store=STORE, roles=frozenset({"picker"}))
    )
    producer.submit(
        event(STORE, "work_submitted", item=WorkItem(id="w1", store=STORE, role="picker"))
    )
    engine.tick(1, 1, NOW, lambda: True)
    claim = engine.work.get_work("a1")
    assert claim is not None
    done = event(STORE, "work_completed", "done-w1", item_id="w1", associate_id="a1")
    producer.submit(done)
    producer.submit(done)  # the producer did not get its acknowledgement, and retried

    report = engine.tick(1, 2, NOW, lambda: True)

    assert (report.applied, report.dead_lettered) == (1, 0)
    assert _dead(rds, namespace) == []
    counts = engine.work.counts(STORE)
    assert (counts["done"], counts["claimed"], counts["queued"]) == (1, 0, 0)
    assert engine.ticks.stats()["duplicates"] == "1"


def test_a_deposed_owner_resumed_mid_tick_moves_no_cursor_and_writes_no_dead_letter(
    rds: redis.Redis, namespace: str
) -> None:
    keys = PartitionKeys(STORE, namespace)
    producer = Producer(rds, namespace)
    producer.submit(
        event(STORE, "work_submitted", item=WorkItem(id="w1", store=STORE, role="picker"))
    )
    producer.submit(event(STORE, "work_completed", item_id="w9", associate_id="a1"))
    new_owner = _engine(rds, namespace, lambda: NOW)
    readings = []

    def paused_clock() -> float:
        # The old owner reads its clock once to reap and once more while applying
        # events, after it has read the stream: there it pauses (GC, slow network),
        # and meanwhile a new owner takes over and moves on.
        readings.append(NOW)
        if len(readings) == 2:
            new_owner.tick(2, 1, NOW, lambda: True)
            producer.submit(event(STORE, "work_completed", item_id="w8", associate_id="a1"))
        return NOW

    old_owner = _engine(rds, namespace, paused_clock)
    with pytest.raises(FencedError):
        old_owner.tick(1, 1, NOW, lambda: True)

    assert len(readings) >= 2, "the old owner never got to apply events"
    cursor_after_new_owner = rds.get(keys.cursor)
    dead = _dead(rds, namespace)
    assert len(dead) == 1, f"the old owner wrote dead letters: {dead}"
    assert dead[0].get("epoch") == "2"
    assert new_owner.work.counts(STORE)["queued"] == 1
    new_owner.tick(2, 2, NOW, lambda: True)  # the new owner goes on from where it was
    assert rds.get(keys.cursor) != cursor_after_new_owner
    assert [d.get("epoch") for d in _dead(rds, namespace)] == ["2", "2"]


def test_the_incoming_stream_of_a_busy_store_stays_bounded(
    rds: redis.Redis, namespace: str
) -> None:
    keys = PartitionKeys(STORE, namespace)
    engine = _engine(rds, namespace, lambda: NOW)
    start_ms, step_ms, entries = 1_600_000_000_000, 60_000, 300  # 5 hours, one a minute
    for n in range(entries):
        item = WorkItem(id=f"w{n}", store=STORE, role="picker")
        raw = event(STORE, "work_submitted", item=item).model_dump_json()
        rds.xadd(keys.events_in, {"event": raw}, id=f"{start_ms + n * step_ms}-0")

    report = engine.tick(1, 1, NOW, lambda: True)

    assert report.applied == entries
    horizon_ms = engine.events.horizon_ms
    # Applied entries older than the idempotency horizon are gone; the rest stay.
    assert rds.xlen(keys.events_in) == horizon_ms // step_ms + 1
    assert engine.work.counts(STORE)["queued"] == entries


def test_a_batch_that_fails_part_way_records_what_it_applied_so_a_retry_skips_it(
    rds: redis.Redis, namespace: str
) -> None:
    engine = _engine(rds, namespace, lambda: NOW)
    # corrupt state: the claims hash is a string, so completing anything fails in Redis
    claims = WorkKeys(STORE, namespace).claims
    rds.set(claims, "not a hash")
    submitted = event(STORE, "work_submitted", item=WorkItem(id="w1", store=STORE, role="picker"))
    completed = event(STORE, "work_completed", item_id="w9", associate_id="a1")
    Producer(rds, namespace).submit_many([submitted, completed])
    with pytest.raises(StoreError, match="WRONGTYPE"):
        engine.events.apply(STORE, 1)
    applied = PartitionKeys(STORE, namespace).applied_events
    assert rds.zscore(applied, submitted.id) is not None
    assert rds.zscore(applied, completed.id) is None

    # the entry before the failing one is done: counted, and the cursor moved past it
    assert rds.hget(PartitionKeys(STORE, namespace).stats, "applied") == "1"

    rds.delete(claims)
    retry = engine.events.apply(STORE, 1)
    assert (retry.applied, retry.duplicates, retry.dead_lettered) == (0, 0, 1)
    assert engine.work.counts(STORE)["queued"] == 1
