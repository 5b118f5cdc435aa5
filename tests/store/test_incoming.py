"""Reading a partition's incoming stream raw: ids, and each entry's event field."""

from __future__ import annotations

import redis

from jarvis.store.incoming import read_incoming
from jarvis.store.keys import PartitionKeys
from jarvis.store.replies import text


def test_entries_come_with_their_event_field_wherever_it_is_and_none_without(
    rds: redis.Redis, namespace: str
) -> None:
    stream = PartitionKeys("oslo", namespace).events_in
    first = text(rds.xadd(stream, {"event": '{"a":1}'}))
    second = text(rds.xadd(stream, {"source": "x", "event": b"\xff{raw"}))
    third = text(rds.xadd(stream, {"something": "else"}))
    assert read_incoming(rds, stream, "", 10) == [
        (first, b'{"a":1}'),
        (second, b"\xff{raw"),
        (third, None),
    ]
    assert read_incoming(rds, stream, first, 1) == [(second, b"\xff{raw")]
    assert read_incoming(rds, stream, third, 10) == []
    assert read_incoming(rds, PartitionKeys("bergen", namespace).events_in, "", 10) == []
