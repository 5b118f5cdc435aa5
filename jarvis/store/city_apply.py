"""A city's new events applied: read from its incoming stream, validated, and applied by
the fenced script ``scripts/city_apply.lua``.

Each entry is validated whole here (the producer's validation is not trusted: anyone may
append to the stream) and becomes seven slots of the script's batch; an entry that
fails becomes a ``bad`` entry, which the script dead-letters with the reason.

A batch goes as a chain of script calls of :data:`CHAIN_SIZE` entries each, pipelined
on one connection (:meth:`~jarvis.store.runner.ScriptRunner.run_chain`): Redis applies
one while this process validates the entries of the next. Each call is atomic and moves
the cursor by compare-and-set, so a call runs only if the one before it did. The gain
needs a core for Redis that nothing else takes (docs/benchmarks.md, "Apply as a chain of
script calls": 0.48-0.51x a bare XADD against 0.44-0.45x in one call on an idle machine,
none under load; chains of two 2,500-entry calls had shown none either).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import orjson
import redis

from jarvis.errors import BadInputError, StoreError
from jarvis.models.city import Courier, Order
from jarvis.models.events import (
    CourierMoved,
    CourierOffline,
    CourierOnline,
    Event,
    OfferAccepted,
    OrderCancelled,
    OrderCreated,
    OrderDeclined,
    OrderDelivered,
    OrderPickedUp,
    parse_event,
)
from jarvis.models.geo import Point
from jarvis.store.incoming import EVENT_FIELD, read_incoming
from jarvis.store.keys import PartitionKeys
from jarvis.store.replication import RedisClient
from jarvis.store.replies import text
from jarvis.store.runner import ScriptRunner, check_epoch
from jarvis.store.specs import CITY_APPLY, Arg

__all__ = ["ApplyResult", "CityApply"]

log = logging.getLogger(__name__)

Entry = tuple[str, bytes | None]

#: Entries per script call of one apply (see the module docstring).
CHAIN_SIZE = 500


@dataclass(frozen=True)
class ApplyResult:
    """What one :meth:`CityStore.apply_events` call did."""

    applied: int
    duplicates: int
    dead_lettered: int
    cursor: str


def _json(model: Order | Courier) -> str:
    """``model.model_dump_json()``, straight from its serializer (no keyword handling)."""
    return model.__pydantic_serializer__.to_json(model).decode()


def _position(point: Point) -> str:
    """``point`` as the JSON object ``{"lat":..,"lon":..}``. A validated point's fields
    are its two finite floats: orjson writes each as the shortest text that reads back
    as the same float (an f-string of their ``repr``, before, cost three times as much:
    about a quarter of encoding the most frequent event)."""
    return orjson.dumps(point.__dict__).decode()


def _encode(event: Event) -> tuple[str, str, str, str]:
    """The four script slots (a, b, c, d) of a valid city event (see ``city_apply.lua``)."""
    if isinstance(event, CourierMoved):  # the most frequent first
        return event.courier_id, _position(event.position), "", ""
    if isinstance(event, OrderCreated):
        order = event.order
        return order.id, _json(order), repr(order.created_at), ""
    if isinstance(event, OrderCancelled | OrderPickedUp | OrderDelivered):
        return event.order_id, "", "", ""
    if isinstance(event, OrderDeclined):
        return event.order_id, event.courier_id, event.reason or "", ""
    if isinstance(event, OfferAccepted):
        return event.order_id, event.courier_id, "", ""
    if isinstance(event, CourierOnline):
        courier = event.courier
        return courier.id, _json(courier), str(courier.capacity), _position(courier.position)
    if isinstance(event, CourierOffline):
        return event.courier_id, "", "", ""
    raise BadInputError(f"event type {event.type!r} does not apply to a city")


@dataclass(frozen=True)
class CityApply:
    """How one city applies its events: its keys, limits and script runner."""

    client: RedisClient  # reads the stream; the scripts run on ``scripts.client``
    scripts: ScriptRunner
    keys: PartitionKeys
    partition: str
    horizon_ms: int
    dead_maxlen: int
    out_maxlen: int
    chain_size: int = CHAIN_SIZE
    _key_map: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        k = self.keys
        key_map = {
            "epoch": k.epoch, "stats": k.stats, "cursor": k.cursor,
            "applied": k.applied_events, "in": k.events_in, "dead": k.dead_letter,
            "orders": k.orders, "order_status": k.order_status, "open": k.open_orders,
            "closed": k.closed_orders, "assignments": k.assignments, "couriers": k.couriers,
            "courier_positions": k.courier_positions, "courier_capacity": k.courier_capacity,
            "courier_load": k.courier_load, "courier_orders": k.courier_orders,
            "online": k.couriers_online, "out": k.decisions_out, "declines": k.declines,
            "offers": k.offers,
        }  # fmt: skip
        object.__setattr__(self, "_key_map", key_map)

    def _batch(self, entries: Sequence[Entry]) -> str:
        """One flat JSON array of the entries' seven slots, entry after entry: (stream
        id, type, event id, a, b, c, d). An entry that fails validation becomes (stream
        id, 'bad', '', reason, '', '', ''), which the script dead-letters."""
        batch: list[str] = []
        partition = self.partition
        for entry_id, raw in entries:
            if raw is None:
                batch += (entry_id, "bad", "", f"entry has no {EVENT_FIELD!r} field", "", "", "")
                continue
            try:
                event = parse_event(raw)
                if event.partition != partition:
                    raise BadInputError(
                        f"event for partition {event.partition!r} sent to {partition!r}"
                    )
                batch += (entry_id, event.type, event.id, *_encode(event))
            except BadInputError as exc:
                batch += (entry_id, "bad", "", str(exc), "", "", "")
        return orjson.dumps(batch).decode()

    def _args(self, cursor: str, last: str, now_ms: Arg, batch: str) -> dict[str, Arg]:
        return {"cursor": cursor, "last": last, "horizon_ms": self.horizon_ms,
                "dead_maxlen": self.dead_maxlen, "partition": self.partition,
                "out_maxlen": self.out_maxlen, "now_ms": now_ms, "batch": batch}  # fmt: skip

    def run(self, epoch: int, max_events: int, now: float | None) -> ApplyResult:
        """Apply up to ``max_events`` new entries (see :meth:`CityStore.apply_events`)."""
        check_epoch(epoch)
        if now is not None and (not math.isfinite(now) or now < 0):
            raise BadInputError(f"now must be a finite unix time, got {now!r}")
        if max_events < 1:
            raise BadInputError(f"max_events must be at least 1, got {max_events!r}")
        try:
            cursor = text(self.client.get(self.keys.cursor) or "")
            entries = read_incoming(self.client, self.keys.events_in, cursor, max_events)
        except redis.RedisError as exc:
            raise StoreError(f"partition {self.partition!r}: reading events failed: {exc}") from exc
        now_ms: Arg = "" if now is None else int(now * 1000)
        last = entries[-1][0] if entries else cursor

        def calls() -> Iterator[tuple[dict[str, Arg], Sequence[str]]]:
            """One script call per ``chain_size`` entries, each validated once the one before
            it was sent; each call's cursor is where the one before it left it."""
            after = cursor
            for first in range(0, max(len(entries), 1), self.chain_size):
                chunk = entries[first : first + self.chain_size]
                upto = chunk[-1][0] if chunk else cursor
                yield self._args(after, upto, now_ms, self._batch(chunk)), ()
                after = upto

        replies = self.scripts.run_chain(
            CITY_APPLY, self.partition, self._key_map, calls(), epoch=epoch
        )
        applied, duplicates, dead = (sum(int(reply[i]) for reply in replies) for i in range(3))
        if dead:
            log.warning("partition %s: %d event(s) dead-lettered", self.partition, dead)
        return ApplyResult(applied, duplicates, dead, last)
