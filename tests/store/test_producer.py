"""The producer: validated events on their partition's stream, acknowledged by Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from jarvis.errors import BadInputError, NotReplicatedError, StoreError
from jarvis.models.events import parse_event
from jarvis.store.keys import PartitionKeys
from jarvis.store.producer import Producer
from jarvis.store.replication import Replication
from jarvis.store.replies import stream_entries
from jarvis.testing.servers import DevCluster, free_port
from tests.store.builders import dump, event, order


def test_submit_appends_the_event_to_its_partition_stream(rds: redis.Redis, namespace: str) -> None:
    created = event("oslo", "order_created", order=order("o1"))
    stream_id = Producer(rds, namespace).submit(created)
    entries = stream_entries(rds.xrange(PartitionKeys("oslo", namespace).events_in))
    assert [entry_id for entry_id, _ in entries] == [stream_id]
    assert parse_event(entries[0][1]["event"]) == created


def test_submit_accepts_mappings_and_json_text(rds: redis.Redis, namespace: str) -> None:
    producer = Producer(rds, namespace)
    data: dict[str, Any] = {
        "id": "e1",
        "partition": "oslo",
        "at": 5.0,
        "type": "order_cancelled",
        "order_id": "o1",
    }
    producer.submit(data)
    producer.submit(json.dumps({**data, "id": "e2"}))
    entries = stream_entries(rds.xrange(PartitionKeys("oslo", namespace).events_in))
    assert [parse_event(fields["event"]).id for _, fields in entries] == ["e1", "e2"]


def test_submit_many_routes_each_event_in_one_round_trip(rds: redis.Redis, namespace: str) -> None:
    events = [
        event("oslo", "order_cancelled", order_id="o1"),
        event("bergen", "order_cancelled", order_id="o2"),
        event("oslo", "order_cancelled", order_id="o3"),
    ]
    ids = Producer(rds, namespace).submit_many(events)
    assert len(ids) == 3
    oslo = stream_entries(rds.xrange(PartitionKeys("oslo", namespace).events_in))
    bergen = stream_entries(rds.xrange(PartitionKeys("bergen", namespace).events_in))
    assert [entry_id for entry_id, _ in oslo] == [ids[0], ids[2]]
    assert [entry_id for entry_id, _ in bergen] == [ids[1]]
    assert Producer(rds, namespace).submit_many([]) == []


@pytest.mark.parametrize(
    "bad",
    [
        "{",
        {"id": "e1", "partition": "oslo", "at": 1.0, "type": "order_cancelled"},
        {"id": "e1", "partition": "oslo", "at": 1.0, "type": "nope"},
        {"id": "e1", "partition": "../x", "at": 1.0, "type": "order_cancelled", "order_id": "o"},
        {"id": "e 1", "partition": "oslo", "at": 1.0, "type": "order_cancelled", "order_id": "o"},
    ],
)
def test_bad_input_is_rejected_and_nothing_is_written(
    rds: redis.Redis, namespace: str, bad: Any
) -> None:
    producer = Producer(rds, namespace)
    with pytest.raises(BadInputError, match="invalid event"):
        producer.submit(bad)
    good = event("oslo", "order_cancelled", order_id="o1")
    with pytest.raises(BadInputError):
        producer.submit_many([good, bad])
    assert dump(rds, namespace) == {}


def test_an_unreachable_redis_is_a_store_error(namespace: str) -> None:
    client = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    producer = Producer(client, namespace)
    good = event("oslo", "order_cancelled", order_id="o1")
    try:
        with pytest.raises(StoreError, match="submitting"):
            producer.submit(good)
        with pytest.raises(StoreError, match="submitting 1 events"):
            producer.submit_many([good])
    finally:
        client.close()


def test_replicated_submits_are_written_per_stream_and_acknowledged_once_confirmed(
    rds: redis.Redis, namespace: str, redis_mode: str
) -> None:
    """With ``min_replicas`` the producer writes each stream's entries, then WAITs: the
    cluster's replicas confirm them; a standalone server has none, so the outcome is
    unknown (NotReplicatedError) and the entries are written all the same."""
    standalone = redis_mode == "standalone"
    replication = Replication(1, 0.05 if standalone else 10.0)
    producer = Producer(rds, namespace, replication=replication)
    one = event("oslo", "order_cancelled", order_id="o1")
    many = [
        event("oslo", "order_cancelled", order_id="o2"),
        event("bergen", "order_cancelled", order_id="o3"),
    ]
    if standalone:
        with pytest.raises(NotReplicatedError):
            producer.submit(one)
        with pytest.raises(NotReplicatedError):
            producer.submit_many(many)
    else:
        assert producer.submit(one)
        assert all(producer.submit_many(many))
    oslo = stream_entries(rds.xrange(PartitionKeys("oslo", namespace).events_in))
    bergen = stream_entries(rds.xrange(PartitionKeys("bergen", namespace).events_in))
    assert [parse_event(fields["event"]) for _, fields in oslo] == [one, many[0]]
    assert [parse_event(fields["event"]) for _, fields in bergen] == [many[1]]


def test_an_error_reply_part_way_fails_the_batch_and_leaves_the_connection_in_step(
    rds: redis.Redis, namespace: str
) -> None:
    """One stream's key is not a stream: its XADD is refused (StoreError, nothing
    acknowledged), the others of the batch are written, and the next batch on the same
    pooled connections gets its own replies."""
    rds.set(PartitionKeys("bergen", namespace).events_in, "not a stream")
    producer = Producer(rds, namespace)
    batch = [
        event("oslo", "order_cancelled", order_id="o1"),
        event("bergen", "order_cancelled", order_id="o2"),
        event("oslo", "order_cancelled", order_id="o3"),
    ]
    with pytest.raises(StoreError, match="WRONGTYPE"):
        producer.submit_many(batch)
    oslo = PartitionKeys("oslo", namespace).events_in
    assert [parse_event(f["event"]).id for _, f in stream_entries(rds.xrange(oslo))] == [
        batch[0].id,
        batch[2].id,
    ]
    again = event("oslo", "order_cancelled", order_id="o4")
    [entry_id] = producer.submit_many([again])
    assert [i for i, _ in stream_entries(rds.xrange(oslo))][-1] == entry_id


def test_replies_that_do_not_come_in_time_fail_the_batch_and_the_next_batch_gets_its_own(
    servers: DevCluster, namespace: str
) -> None:
    """The producer reads its replies from the socket itself: when they are late (the
    server paused past the client's socket timeout) the batch fails as a StoreError and
    its connection is dropped, not put back half-read; a later batch on the same producer
    gets the ids of its own entries."""
    client = redis.Redis.from_url(servers.redis.url, socket_timeout=0.1)
    admin = redis.Redis.from_url(servers.redis.url)
    producer = Producer(client, namespace)
    stream = PartitionKeys("oslo", namespace).events_in
    try:
        admin.client_pause(400, all=False)  # writes only
        with pytest.raises(StoreError, match="submitting 2 events failed"):
            producer.submit_many(
                [event("oslo", "order_cancelled", order_id=f"o{i}") for i in (1, 2)]
            )
        later = [event("oslo", "order_cancelled", order_id=f"o{i}") for i in (3, 4)]
        deadline = time.monotonic() + 10
        while True:  # the pause ends within 400 ms; until then a batch times out too
            try:
                ids = producer.submit_many(later)
                break
            except StoreError:
                assert time.monotonic() < deadline, "the server never took a batch again"
        entries = stream_entries(admin.xrange(stream))
        by_id = {entry_id: parse_event(fields["event"]).id for entry_id, fields in entries}
        assert [by_id[i] for i in ids] == [e.id for e in later]
    finally:
        admin.client_unpause()
        client.close()
        admin.close()
