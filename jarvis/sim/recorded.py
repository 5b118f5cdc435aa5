"""A day from a city's recorded incoming stream (``<namespace>:{<city>}:in`` in Redis).

What the city was asked to do, not what it decided: the ``order_created`` events are
the day's orders, ``order_cancelled`` its cancellations, and each courier works one shift
from its first ``courier_online`` to its last ``courier_offline`` after that (or until
the last order arrives), with the capacity and vehicle it announced. Pickups,
deliveries, moves and declines are left out: in a replay the simulator decides them.
The stream holds what the city has not yet trimmed (``jarvis.store.city``: applied
entries older than its horizon are forgotten), so a replay covers that window.
Entries that do not parse are skipped and counted, as the city dead-lettered them.
"""

from __future__ import annotations

import logging

import redis

from jarvis.errors import BadInputError, StoreError
from jarvis.models import (
    Courier,
    CourierOffline,
    CourierOnline,
    Order,
    OrderCancelled,
    OrderCreated,
    parse_event,
)
from jarvis.sim.couriers import Shift
from jarvis.sim.day import Day
from jarvis.store.city import EVENT_FIELD
from jarvis.store.keys import PartitionKeys
from jarvis.store.replication import RedisClient
from jarvis.store.replies import read_stream

__all__ = ["recorded_day"]

log = logging.getLogger(__name__)

_BATCH = 1000


def _entries(client: RedisClient, stream: str) -> list[bytes]:
    """Every entry's event field (undecoded), oldest first; b"" where it has none."""
    out: list[bytes] = []
    after = "-"
    try:
        while True:
            batch = read_stream(client, stream, after, _BATCH)
            out.extend(fields.get(EVENT_FIELD.encode(), b"") for _, fields in batch)
            if len(batch) < _BATCH:
                return out
            after = batch[-1][0]
    except redis.RedisError as exc:
        raise StoreError(f"reading {stream} failed: {exc}") from exc


def recorded_day(client: RedisClient, city: str, namespace: str) -> Day:
    """The day recorded in ``city``'s incoming stream; BadInputError if it holds no order."""
    stream = PartitionKeys(city, namespace).events_in
    orders: dict[str, Order] = {}
    cancels: dict[str, float] = {}
    online: dict[str, tuple[Courier, float]] = {}
    offline: dict[str, float] = {}
    skipped = 0
    for raw in _entries(client, stream):
        try:
            event = parse_event(raw)
        except BadInputError:
            skipped += 1
            continue
        if isinstance(event, OrderCreated):
            orders.setdefault(event.order.id, event.order)
        elif isinstance(event, OrderCancelled):
            cancels.setdefault(event.order_id, event.at)
        elif isinstance(event, CourierOnline):
            online.setdefault(event.courier.id, (event.courier, event.at))
        elif isinstance(event, CourierOffline) and event.courier_id in online:
            offline[event.courier_id] = event.at
    if skipped:
        log.warning("replay of %s: %d entries that do not parse were skipped", city, skipped)
    if not orders:
        raise BadInputError(f"city {city!r}: no order_created event in {stream}")
    ordered = tuple(sorted(orders.values(), key=lambda o: (o.created_at, o.id)))
    start = min([ordered[0].created_at] + [at for _, at in online.values()]) - 1.0
    end = ordered[-1].created_at + 1.0
    shifts = tuple(
        Shift(courier, at, max(offline.get(courier.id, end), at))
        for courier, at in sorted(online.values(), key=lambda c: (c[1], c[0].id))
    )
    log.info("replay of %s: %d orders, %d couriers", city, len(ordered), len(shifts))
    return Day(ordered, shifts, start, end, cancels)
