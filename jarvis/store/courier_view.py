"""What one courier holds, as its app sees it: each order with its status and its places
in the courier's planned route (the stop order the fenced commit stored with the
assignment, :mod:`jarvis.models.stops`), in the order the route reaches them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jarvis.errors import DispatchError, StoreError
from jarvis.models.city import Order
from jarvis.models.routes import HeldOrder
from jarvis.models.stops import parse_stops, placed, stops_of
from jarvis.store.keys import PartitionKeys
from jarvis.store.replication import RedisClient
from jarvis.store.replies import text

__all__ = ["CourierOrder", "courier_orders"]


@dataclass(frozen=True)
class CourierOrder:
    """An order a courier holds: ``offered`` (acceptance mode, until ``expires_at``),
    ``assigned`` or ``picked_up``; where its route picks it up (None once picked up) and
    drops it off, as 0-based places in its stop order."""

    order: Order
    status: str
    expires_at: float | None = None
    pickup_stop: int | None = None
    dropoff_stop: int = 0


def courier_orders(
    redis: RedisClient, keys: PartitionKeys, courier_id: str
) -> list[CourierOrder] | None:
    """What ``courier_id`` holds, by its first stop in the planned route; None for an
    unknown courier. Redis errors propagate (the caller wraps them)."""
    with redis.pipeline(transaction=True) as pipe:
        pipe.hexists(keys.couriers, courier_id)
        pipe.hget(keys.courier_orders, courier_id)
        known, held = pipe.execute()
    if not known:
        return None
    ids = text(held or "").split()
    if not ids:
        return []
    with redis.pipeline(transaction=True) as pipe:
        pipe.hmget(keys.orders, ids)
        pipe.hmget(keys.order_status, ids)
        pipe.hmget(keys.assignments, ids)
        pipe.zmscore(keys.offers, ids)
        pipe.hget(keys.courier_routes, courier_id)
        records, statuses, owners, expiries, route = pipe.execute()
    out = []
    for record, status, owner, expiry in zip(records, statuses, owners, expiries, strict=True):
        # between the two reads an order may have been delivered or moved: skip it
        if record is None or owner is None or text(owner) != courier_id:
            continue
        state = text(status or "")
        expires = float(expiry) / 1000.0 if expiry is not None and state == "offered" else None
        out.append(CourierOrder(Order.model_validate_json(record), state, expires))
    return _in_stop_order(out, route)


def _in_stop_order(held: list[CourierOrder], route: Any) -> list[CourierOrder]:
    orders = tuple(HeldOrder(h.order, h.status == "picked_up") for h in held)
    try:
        stops = stops_of(orders if route is None else placed(orders, parse_stops(text(route))))
    except DispatchError as exc:
        raise StoreError(f"courier route {text(route)!r} is corrupt: {exc}") from exc
    at = {stop: n for n, stop in enumerate(stops)}
    out = [
        CourierOrder(
            h.order, h.status, h.expires_at, at.get((h.order.id, True)), at[h.order.id, False]
        )
        for h in held
    ]
    return sorted(out, key=lambda h: h.dropoff_stop if h.pickup_stop is None else h.pickup_stop)
