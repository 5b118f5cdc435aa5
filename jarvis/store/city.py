"""A city partition's state in Redis: events in, snapshot out, fenced commits.

The owner of a city calls, each tick: :meth:`CityStore.apply_events` (new entries of the
incoming stream, applied by one fenced script), :meth:`CityStore.snapshot` (open orders
and free couriers, one round trip), then :meth:`CityStore.commit` (one fenced script that
re-checks every assignment and applies all of them or none).

Memory is bounded by ``horizon_s``: ids of applied events, closed (delivered or
cancelled) orders and applied entries of the incoming stream are forgotten once they
are older than the horizon, in stream time. So a duplicate event is recognised when it
arrives within ``horizon_s`` of its first copy, and an order id can be reused after it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
from pydantic import TypeAdapter, ValidationError

from jarvis.errors import BadInputError, DispatchError, StoreError
from jarvis.models.city import Courier, Order
from jarvis.models.geo import Point
from jarvis.models.reassign import Movable
from jarvis.models.routes import HeldOrder
from jarvis.models.stops import Stop, parse_stops, placed
from jarvis.store.city_apply import CHAIN_SIZE, ApplyResult, CityApply
from jarvis.store.city_commit import CommitResult, commit_tick
from jarvis.store.courier_view import CourierOrder, courier_orders
from jarvis.store.decisions import DecisionRecord, read_decisions
from jarvis.store.incoming import EVENT_FIELD as EVENT_FIELD
from jarvis.store.keys import DEFAULT_NAMESPACE, PartitionKeys
from jarvis.store.replication import RedisClient
from jarvis.store.replies import read_stream, text
from jarvis.store.runner import ScriptRunner

__all__ = ["ApplyResult", "CitySnapshot", "CityStore", "CommitResult", "CourierOrder"]

log = logging.getLogger(__name__)

DEFAULT_HORIZON_S = 3600.0
DEFAULT_DEAD_MAXLEN = 100_000
DEFAULT_OUT_MAXLEN = 100_000


@dataclass(frozen=True)
class CitySnapshot:
    """What the solver needs: open unassigned orders and couriers with free slots."""

    orders: tuple[Order, ...]  # open, unassigned, not cancelled; oldest first
    couriers: tuple[Courier, ...]  # online, capacity = FREE slots (> 0); by id
    cursor: str  # last applied entry id of the incoming stream ('' when none)
    #: What each courier of ``couriers`` holds (assigned or picked up), in assignment order.
    held: Mapping[str, tuple[HeldOrder, ...]] = field(default_factory=dict)
    #: (order id, courier id, when in unix seconds) of the declines of open orders.
    declines: tuple[tuple[str, str, float], ...] = ()
    #: Assigned orders not picked up (not offers) of every online courier, with what the
    #: courier holds and how often each was reassigned; only from ``snapshot(movable=True)``.
    movable: tuple[Movable, ...] = ()


_Model = TypeVar("_Model", Order, Courier)


def _parse(
    raw: Any, model: type[_Model], cache: dict[Any, _Model], seen: dict[Any, _Model]
) -> _Model:
    parsed = cache.get(raw)
    if parsed is None:
        parsed = model.model_validate_json(raw)
    seen[raw] = parsed
    return parsed


_POINTS = TypeAdapter(list[Point])
_COURIERS = TypeAdapter(list[Courier])


def _free_couriers(spare: list[tuple[Courier, int, Any]]) -> tuple[Courier, ...]:
    """Each (courier, free slots, its position as stored JSON) as the courier with its
    free slots for capacity, where it is now. The positions are validated by one call,
    the couriers built by another (one copy and one parse per courier were half of a
    snapshot of 1,000 couriers)."""
    if not spare:
        return ()
    raws = [raw if isinstance(raw, bytes) else str(raw).encode() for _, _, raw in spare]
    points = _POINTS.validate_json(b"[" + b",".join(raws) + b"]")
    if len(points) != len(spare):
        raise ValueError(f"{len(spare)} courier positions read as {len(points)} points")
    return tuple(
        _COURIERS.validate_python(
            [
                {**courier.__dict__, "capacity": slots, "position": point}
                for (courier, slots, _), point in zip(spare, points, strict=True)
            ]
        )
    )


def _placed(held: tuple[HeldOrder, ...], route: Any) -> tuple[HeldOrder, ...]:
    """``held`` with the places of the courier's stored stop order, if it has one."""
    return held if route is None else placed(held, parse_stops(text(route)))


class CityStore:
    """The Redis state of one city partition. Mutations are fenced by ``epoch``."""

    def __init__(
        self,
        redis: RedisClient,
        partition: str,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        horizon_s: float = DEFAULT_HORIZON_S,
        dead_maxlen: int = DEFAULT_DEAD_MAXLEN,
        out_maxlen: int = DEFAULT_OUT_MAXLEN,
        scripts: ScriptRunner | None = None,
        chain_size: int = CHAIN_SIZE,
    ) -> None:
        if not horizon_s > 0 or not math.isfinite(horizon_s):
            raise BadInputError(f"horizon_s must be a positive number, got {horizon_s!r}")
        if chain_size < 1:
            raise BadInputError(f"chain_size must be at least 1, got {chain_size!r}")
        self.redis = redis
        self.partition = partition
        self.keys = PartitionKeys(partition, namespace)
        self.namespace = namespace
        self.horizon_ms = int(horizon_s * 1000)
        self.dead_maxlen = dead_maxlen
        self.out_maxlen = out_maxlen
        self.scripts = scripts or ScriptRunner(redis)
        self._apply = CityApply(
            self.redis, self.scripts, self.keys, partition, self.horizon_ms, dead_maxlen,
            out_maxlen, chain_size,
        )  # fmt: skip
        self._orders_cache: dict[Any, Order] = {}
        self._couriers_cache: dict[Any, Courier] = {}

    def __repr__(self) -> str:
        return f"CityStore({self.partition!r}, namespace={self.namespace!r})"

    def _fail(self, what: str, exc: redis.RedisError) -> StoreError:
        return StoreError(f"partition {self.partition!r}: {what} failed: {exc}")

    # -- events in -----------------------------------------------------------------------

    def apply_events(
        self, epoch: int, max_events: int = 5000, now: float | None = None
    ) -> ApplyResult:
        """Apply up to ``max_events`` new entries of the incoming stream (fenced, atomic
        and idempotent: :mod:`jarvis.store.city_apply`).

        Invalid or inapplicable events go to the dead-letter stream with their reason;
        this never raises for a bad event. FencedError when ``epoch`` is stale. Offers
        (acceptance mode) expire in the same script: those due before an applied event,
        then those due at ``now`` (unix seconds; None: only by the events' times).
        """
        return self._apply.run(epoch, max_events, now)

    # -- snapshot ------------------------------------------------------------------------

    def snapshot(self, movable: bool = False) -> CitySnapshot:
        """Open orders (oldest first), couriers with free slots and what they hold.

        Everything is read atomically but whether a held order is picked up: that is
        read just after, so it may lag one event (it only changes a route's cost; the
        commit re-checks a move). With ``movable``, also the orders reassignment may
        move (:class:`jarvis.models.reassign.Movable`).
        """
        k = self.keys
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(k.cursor)
                pipe.zrange(k.open_orders, 0, -1)
                pipe.hgetall(k.orders)
                pipe.smembers(k.couriers_online)
                pipe.hgetall(k.couriers)
                pipe.hgetall(k.courier_positions)
                pipe.hgetall(k.courier_load)
                pipe.hgetall(k.courier_orders)
                pipe.zrange(k.declines, 0, -1, withscores=True)
                pipe.hgetall(k.courier_routes)
                replies = pipe.execute()
            cursor, open_ids, orders, online, couriers, positions, loads, held_ids = replies[:8]
            declined, routes = replies[8], replies[9]
            held_by = {
                cid: held_ids[cid].split()
                for cid in online
                if cid in held_ids and int(loads.get(cid, 0)) > 0
            }
            every_held = [oid for ids in held_by.values() for oid in ids]
            statuses = self.redis.hmget(k.order_status, every_held) if every_held else []
            moved = self.redis.hmget(k.reassigned, every_held) if movable and every_held else []
        except redis.RedisError as exc:
            raise self._fail("snapshot", exc) from exc
        # Records are immutable JSON: each distinct text is validated once and reused by
        # later snapshots (the cache keeps only what this snapshot saw, so it stays small).
        seen_orders: dict[Any, Order] = {}
        seen_couriers: dict[Any, Courier] = {}
        try:
            open_orders = tuple(
                _parse(orders[oid], Order, self._orders_cache, seen_orders) for oid in open_ids
            )
            spare = []
            for cid in sorted(online):
                courier = _parse(couriers[cid], Courier, self._couriers_cache, seen_couriers)
                slots = courier.capacity - int(loads.get(cid, 0))
                if slots > 0:
                    spare.append((courier, slots, positions[cid]))
            free = _free_couriers(spare)
            picked = {
                text(oid)
                for oid, status in zip(every_held, statuses, strict=True)
                if status is not None and text(status) == "picked_up"
            }
            free_ids = {c.id for c in free}
            held = {
                text(cid): _placed(
                    tuple(
                        HeldOrder(
                            _parse(orders[oid], Order, self._orders_cache, seen_orders),
                            text(oid) in picked,
                        )
                        for oid in ids
                    ),
                    routes.get(cid),
                )
                for cid, ids in held_by.items()
                if text(cid) in free_ids
            }
            open_set = {text(oid) for oid in open_ids} if declined else set()
            declines = []
            for member, score in declined:
                order_id, courier_id = text(member).split(" ")
                if order_id in open_set:
                    declines.append((order_id, courier_id, float(score) / 1000.0))
            movables = (
                self._movable(
                    held_by, every_held, statuses, moved, orders, couriers, positions, routes
                )
                if movable
                else ()
            )
        except (KeyError, ValueError, ValidationError, DispatchError) as exc:
            raise StoreError(f"partition {self.partition!r}: state is corrupt: {exc!r}") from exc
        self._orders_cache, self._couriers_cache = seen_orders, seen_couriers
        cursor_id = text(cursor or "")
        return CitySnapshot(open_orders, free, cursor_id, held, tuple(declines), tuple(movables))

    def _movable(
        self,
        held_by: Mapping[Any, list[Any]],
        every_held: Sequence[Any],
        statuses: Sequence[Any],
        moved: Sequence[Any],
        orders: Mapping[Any, Any],
        couriers: Mapping[Any, Any],
        positions: Mapping[Any, Any],
        routes: Mapping[Any, Any],
    ) -> list[Movable]:
        status = {text(o): text(s) for o, s in zip(every_held, statuses, strict=True) if s}
        moves = {text(o): int(m) for o, m in zip(every_held, moved, strict=True) if m}
        out = []
        for cid, ids in held_by.items():
            names = [text(oid) for oid in ids]
            if not any(status.get(n) == "assigned" for n in names):
                continue
            courier = Courier.model_validate_json(couriers[cid]).model_copy(
                update={"position": Point.model_validate_json(positions[cid])}
            )
            held = _placed(
                tuple(
                    HeldOrder(Order.model_validate_json(orders[oid]), status.get(n) == "picked_up")
                    for oid, n in zip(ids, names, strict=True)
                ),
                routes.get(cid),
            )
            out += [
                Movable(h.order, courier, held, moves.get(h.order.id, 0))
                for h, n in zip(held, names, strict=True)
                if status.get(n) == "assigned"
            ]
        return out

    # -- decisions out -------------------------------------------------------------------

    def commit(
        self,
        epoch: int,
        tick: int,
        assignments: Sequence[tuple[str, str]],
        now: float,
        *,
        offer_timeout_s: float = 0.0,
        moves: Sequence[tuple[str, str, str]] = (),
        max_moves: int = 0,
        routes: Mapping[str, Sequence[Stop]] | None = None,
    ) -> CommitResult:
        """Apply every (order id, courier id) pair and record the tick, or change nothing.

        Refused (``accepted=False``, with reasons) if any order is no longer open or any
        courier is offline or full; FencedError if ``epoch`` is stale. An accepted
        commit appends one ``assignment`` entry per pair and one ``tick`` marker to the
        out stream, and records ``last_tick_at``, ``tick`` and ``last_epoch`` in stats.

        With ``offer_timeout_s > 0`` (acceptance mode) the pairs are offers instead
        (``offer`` entries) that expire after that many seconds unless accepted.
        ``moves`` are reassignments (order id, new courier id, current courier id):
        each order must still be assigned (not offered, not picked up) to its current
        courier and have been reassigned fewer than ``max_moves`` times; each is a
        ``reassignment`` entry. ``routes`` gives a courier of the pairs or moves its
        whole stop order afterwards (``Decision.routes``); it is checked against what
        the courier then holds and stored with the assignment.
        """
        return commit_tick(
            self.scripts, self.keys, self.partition, self.out_maxlen, epoch, tick,
            assignments, now, offer_timeout_s=offer_timeout_s, moves=moves,
            max_moves=max_moves, routes=routes,
        )  # fmt: skip

    def record_tick(self, epoch: int, tick: int, now: float) -> str:
        """Record a tick without assignments (fenced); the out-stream id of its marker."""
        return self.commit(epoch, tick, (), now).marker

    # -- inspection ----------------------------------------------------------------------

    def courier_orders(self, courier_id: str) -> list[CourierOrder] | None:
        """What ``courier_id`` holds, in its planned route's order, with each order's
        places in it; None for an unknown courier."""
        try:
            return courier_orders(self.redis, self.keys, courier_id)
        except redis.RedisError as exc:
            raise self._fail("reading a courier's orders", exc) from exc

    def last_tick(self) -> tuple[int, float | None]:
        """The last recorded tick number (0 if none) and when it ran (None if never)."""
        stats = self.stats()
        last = stats.get("last_tick_at")
        return int(stats.get("tick", "0")), float(last) if last else None

    def stats(self) -> dict[str, str]:
        """Counters and the last tick: applied, duplicates, dead_letters, fenced, ..."""
        try:
            raw = self.redis.hgetall(self.keys.stats)
        except redis.RedisError as exc:
            raise self._fail("reading stats", exc) from exc
        return {text(key): text(value) for key, value in raw.items()}

    def dead_letters(self, count: int = 100, after: str = "-") -> list[dict[str, str]]:
        """Dead-lettered entries, oldest first: id, stream_id, reason, event, epoch."""
        try:
            entries = read_stream(self.redis, self.keys.dead_letter, after, count)
        except redis.RedisError as exc:
            raise self._fail("reading dead letters", exc) from exc
        return [
            {"id": eid, **{text(k): text(v) for k, v in fields.items()}} for eid, fields in entries
        ]

    def decisions(self, after: str = "-", count: int = 1000) -> list[DecisionRecord]:
        """Decisions of this city from the out stream, after entry id ``after``."""
        return read_decisions(self.redis, self.partition, after, count, self.namespace)
