"""City apply in chunks (``jarvis.store.city_apply``): one script call per chunk, all
sent on one connection; the outcome is that of one call, or a prefix of the chunks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from jarvis.errors import StoreError
from jarvis.store import city_apply
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.store.builders import courier, event, order
from tests.store.test_city_apply import _applied_alone, _moves_script, _orders_script, _outcome

CITY = "lyon"


@pytest.mark.parametrize(
    ("script", "counts"), [(_moves_script, (6, 1, 2)), (_orders_script, (6, 1, 4))]
)
def test_an_apply_in_chunks_ends_as_if_each_event_was_applied_alone(
    rds: redis.Redis,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    script: Callable[[str], list[Any]],
    counts: tuple[int, int, int],
) -> None:
    monkeypatch.setattr(city_apply, "APPLY_CHUNK", 2)
    one_by_one, chunked = _applied_alone(rds, namespace, script)
    whole = chunked.apply_events(1)
    assert (whole.applied, whole.duplicates, whole.dead_lettered) == counts
    assert _outcome(chunked) == _outcome(one_by_one)
    assert whole.cursor == rds.get(chunked.keys.cursor)


def test_chunks_a_server_did_not_know_the_script_of_are_sent_again_once_it_is_loaded(
    rds: redis.Redis, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(city_apply, "APPLY_CHUNK", 2)
    one_by_one, chunked = _applied_alone(rds, namespace, _orders_script)
    rds.script_flush()
    whole = chunked.apply_events(1)
    assert (whole.applied, whole.duplicates, whole.dead_lettered) == (6, 1, 4)
    assert _outcome(chunked) == _outcome(one_by_one)


def test_a_chunk_failing_part_way_leaves_the_chunks_before_it_applied_and_none_after(
    rds: redis.Redis, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two: the first applies; the second fails in Redis after its first
    event's check (what couriers hold is not a hash); the third is refused (the cursor
    is not where it expects). The first failure is raised; a retry applies the rest. In a
    Redis Cluster the batch is one call (no chunks): nothing of it moves the cursor."""
    monkeypatch.setattr(city_apply, "APPLY_CHUNK", 2)
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    producer.submit(event(CITY, "courier_online", courier=courier("c1")))
    store.apply_events(1)
    first_cursor = rds.get(store.keys.cursor)
    rds.set(store.keys.courier_orders, "not a hash")
    created = event(CITY, "order_created", order=order("o1"))
    moved = event(CITY, "courier_moved", courier_id="c1", position={"lat": 48.5, "lon": 2.5})
    offline = event(CITY, "courier_offline", courier_id="c1")
    later = [
        event(CITY, "order_created", order=order("o2", created_at=1001.0)),
        event(CITY, "courier_moved", courier_id="c1", position={"lat": 49.0, "lon": 3.0}),
    ]
    ids = producer.submit_many([created, moved, offline, *later])
    with pytest.raises(StoreError, match="WRONGTYPE"):
        store.apply_events(1)
    chunked = not isinstance(rds, redis.RedisCluster)
    assert rds.get(store.keys.cursor) == (ids[1] if chunked else first_cursor)
    recorded = set(rds.zrange(store.keys.applied_events, 0, -1))
    assert {created.id, moved.id} <= recorded
    assert not {offline.id, *(e.id for e in later)} & recorded
    assert rds.hget(store.keys.order_status, "o2") is None

    rds.delete(store.keys.courier_orders)
    retry = store.apply_events(1)
    # the chunk applied before is behind the cursor; one call reads it again (duplicates)
    assert (retry.applied, retry.duplicates, retry.dead_lettered) == (3, 0 if chunked else 2, 0)
    assert [o.id for o in store.snapshot().orders] == ["o1", "o2"]
    assert store.snapshot().couriers == ()  # offline
    assert retry.cursor == ids[-1] == rds.get(store.keys.cursor)


def test_only_the_last_chunk_expires_offers_at_now(
    rds: redis.Redis, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An offer accepted by an event before its expiry, applied in a later chunk than
    another event, with ``now`` long past the expiry: the acceptance is applied first,
    as in one call (an earlier chunk expiring offers at ``now`` would reopen the order
    and dead-letter the acceptance)."""
    monkeypatch.setattr(city_apply, "APPLY_CHUNK", 1)
    producer = Producer(rds, namespace)
    store = CityStore(rds, CITY, namespace)
    producer.submit_many(
        [
            event(CITY, "order_created", order=order("o1", created_at=1001.0)),
            event(CITY, "courier_online", courier=courier("c1")),
            event(CITY, "courier_online", courier=courier("c2")),
        ]
    )
    store.apply_events(1)
    t = float(int(time.time()))
    assert store.commit(1, 1, [("o1", "c1")], t, offer_timeout_s=30.0).accepted
    producer.submit_many(
        [
            event(CITY, "courier_moved", courier_id="c2", position={"lat": 48.5, "lon": 2.5}),
            event(CITY, "offer_accepted", order_id="o1", courier_id="c1"),
        ]
    )
    result = store.apply_events(1, now=t + 300.0)
    assert (result.applied, result.duplicates, result.dead_lettered) == (2, 0, 0)
    assert rds.hget(store.keys.order_status, "o1") == "assigned"
    kinds = [d.type for d in store.decisions() if d.type != "tick"]
    assert kinds == ["offer", "accepted"]
