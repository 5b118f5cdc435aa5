"""Small builders for store tests: domain objects, events and a full key dump."""

from __future__ import annotations

import itertools
from typing import Any

import redis

from jarvis.models.city import Courier, Order
from jarvis.models.events import Event, validate_event
from jarvis.models.geo import Point

_ids = itertools.count(1)


def order(oid: str, created_at: float = 1000.0, **fields: Any) -> Order:
    return Order(
        id=oid,
        pickup=Point(lat=48.85, lon=2.35),
        dropoff=Point(lat=48.86, lon=2.36),
        created_at=created_at,
        ready_at=created_at,
        **fields,
    )


def courier(cid: str, capacity: int = 1, lat: float = 48.85, lon: float = 2.35) -> Courier:
    return Courier(id=cid, position=Point(lat=lat, lon=lon), capacity=capacity)


def event(partition: str, kind: str, event_id: str | None = None, **fields: Any) -> Event:
    """A valid event of type ``kind`` with a fresh id unless one is given."""
    data = {"id": event_id or f"e{next(_ids)}", "partition": partition, "at": 1000.0}
    return validate_event({**data, "type": kind, **fields})


def dump(rds: redis.Redis, namespace: str) -> dict[str, Any]:
    """Every key of ``namespace`` with its full content, comparable with ``==``."""
    out: dict[str, Any] = {}
    for key in sorted(rds.scan_iter(match=f"{namespace}:*", count=1000)):
        kind = rds.type(key)
        if kind == "string":
            out[key] = rds.get(key)
        elif kind == "hash":
            out[key] = rds.hgetall(key)
        elif kind == "set":
            out[key] = sorted(rds.smembers(key))
        elif kind == "zset":
            out[key] = rds.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            out[key] = rds.xrange(key)
        else:
            out[key] = (kind, rds.dump(key))
    return out
