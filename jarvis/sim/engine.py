"""The clock: a day run tick by tick under one policy.

Each tick (every ``tick_s`` simulated seconds): orders created since the last tick join
the pool and cancellations apply; couriers log in, ride their routes up to now (pickups
and deliveries happen on the way) and log out once they hold nothing and their shift is
over, or the last order has arrived and none is open; then the policy decides among the
open orders and the couriers in their shift with a free slot. An offer is declined when
the seeded draw for that order's n-th offer falls below ``decline_share``: the order stays
open, and the decision code is told (``declines``) so it is not offered to that courier
again within the cooldown. Reassignments the policy returns move an order (not picked up)
from one courier's route to another's; a reassignment is not declined. Each courier
given an order then rides the stop order the policy planned (``Dispatch.routes``).

The run ends when every order is delivered or cancelled, or ``drain_s`` after the last
order could arrive. Nothing here touches Redis.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from jarvis.errors import DispatchError
from jarvis.models import EtaEstimator, HeldOrder, Movable, Move, Order, StraightLineEstimator
from jarvis.models.stops import placed
from jarvis.sim.couriers import Rider
from jarvis.sim.day import Day
from jarvis.sim.history import Entry, History
from jarvis.sim.policies import Policy

__all__ = ["OrderRecord", "SimResult", "simulate"]

log = logging.getLogger(__name__)


@dataclass
class OrderRecord:
    """What happened to one order (unix seconds; None when it did not happen)."""

    order: Order
    assigned_at: float | None = None  # the accepted assignment
    picked_up_at: float | None = None
    delivered_at: float | None = None
    courier: str | None = None
    cancelled_at: float | None = None
    declines: int = 0
    moves: int = 0  # times it was reassigned


@dataclass(frozen=True)
class SimResult:
    """The outcome of a day under one policy."""

    policy: str
    records: tuple[OrderRecord, ...]
    online_s: float  # courier-seconds online (sampled each tick)
    idle_s: float  # courier-seconds online holding nothing
    ticks: int
    reassignments: int = 0
    max_held: int = 0  # the most orders any courier held at once
    #: Orders couriers still held when the run ended (its drain time was up).
    still_held: frozenset[str] = frozenset()
    #: What the city's out stream would hold (jarvis.sim.history).
    history: tuple[Entry, ...] = ()
    capacity: dict[str, int] = field(default_factory=dict)


def declines_offer(seed: int, order: str, offer: int, share: float) -> bool:
    """Whether the ``offer``-th offer of ``order`` (0 first) is declined: one seeded draw
    per (order, offer number), whoever the courier is (``random.Random`` seeds a text by
    its SHA-512). Common random numbers: every policy meets the same declines, order by
    order, so their KPIs differ by their decisions and not by which couriers' draws
    their pairs happened to meet."""
    return share > 0 and random.Random(f"{seed}/{order}/{offer}").random() < share


def simulate(
    day: Day,
    policy: Policy,
    *,
    tick_s: float = 30.0,
    decline_share: float = 0.0,
    seed: int = 0,
    decline_cooldown_s: float = 300.0,
    drain_s: float = 3 * 3600.0,
    estimator: EtaEstimator | None = None,
) -> SimResult:
    """Run ``day`` under ``policy``; deterministic for a given day, policy and seed."""
    estimator = estimator or StraightLineEstimator()
    records = {o.id: OrderRecord(o) for o in day.orders}
    riders = [Rider(s, s.courier.position, s.start) for s in day.shifts]
    by_id = {r.id: r for r in riders}
    cancels = sorted((at, o) for o, at in day.cancels.items() if o in records)
    pool: dict[str, Order] = {}
    declines: list[tuple[str, str, float]] = []
    history = History()
    arrived = cancelled = delivered = ticks = max_held = reassignments = 0
    online_s = idle_s = 0.0
    now = day.start
    while delivered + cancelled < len(records) and now < day.end + drain_s:
        now += tick_s
        ticks += 1
        while arrived < len(day.orders) and day.orders[arrived].created_at <= now:
            order = day.orders[arrived]
            pool[order.id] = order
            arrived += 1
        while cancels and cancels[0][0] <= now:
            at, order_id = cancels.pop(0)
            cancelled += _cancel(records[order_id], at, pool, by_id, history)
        for rider in riders:
            if rider.done:
                continue
            if not rider.online and rider.shift.start <= now:
                rider.online, rider.clock = True, max(rider.clock, rider.shift.start)
            if not rider.online:
                continue
            for stop in rider.ride(now, estimator):
                record = records[stop.order.id]
                if stop.picked_up:
                    record.picked_up_at = stop.at
                else:
                    record.delivered_at = stop.at
                    delivered += 1
                    history.delivered(stop.order.id, rider.id)
            # after its shift, or once no order is left to come, an idle courier goes home
            finished = now >= rider.shift.end or (now > day.end and not pool)
            if finished and not rider.held:
                rider.online, rider.done = False, True
                continue
            rider.online_s += tick_s
            online_s += tick_s
            if not rider.held:
                rider.idle_s += tick_s
                idle_s += tick_s
        declines = [d for d in declines if d[2] + decline_cooldown_s > now]
        free = [r for r in riders if r.online and now < r.shift.end and r.free_slots > 0]
        movable = _movable(riders, records) if policy.reassigns else []
        dispatch = policy.assign(list(pool.values()), free, now, declines, movable)
        for order_id, courier_id in dispatch.pairs:
            record, rider = records[order_id], by_id[courier_id]
            if order_id not in pool or rider.free_slots <= 0:
                raise DispatchError(
                    f"policy {policy.name} gave {order_id} to {courier_id}, "
                    "but the order is not open or the courier is full"
                )
            history.assigned(order_id, courier_id)
            if declines_offer(seed, order_id, record.declines, decline_share):
                declines.append((order_id, courier_id, now))
                record.declines += 1
                history.unassigned(order_id, courier_id, "declined")
                continue
            del pool[order_id]
            rider.held.append(HeldOrder(record.order))
            record.assigned_at, record.courier = now, courier_id
            max_held = max(max_held, len(rider.held))
        for move in dispatch.moves:
            _move(move, records[move.task], by_id, now)
            history.reassigned(move.task, move.worker, move.source)
            reassignments += 1
            max_held = max(max_held, len(by_id[move.worker].held))
        for courier_id, stops in dispatch.routes.items():
            rider = by_id[courier_id]
            rider.stop_here(now)  # its next stop may have changed: ride on from here
            rider.held = list(placed(rider.held, stops))
        history.tick(now)
    log.debug("simulated %d ticks under %s: %d delivered", ticks, policy.name, delivered)
    return SimResult(
        policy=policy.name,
        records=tuple(records[o.id] for o in day.orders),
        online_s=online_s,
        idle_s=idle_s,
        ticks=ticks,
        reassignments=reassignments,
        max_held=max_held,
        capacity={r.id: r.capacity for r in riders},
        still_held=frozenset(h.order.id for r in riders for h in r.held),
        history=tuple(history.entries),
    )


def _movable(riders: list[Rider], records: dict[str, OrderRecord]) -> list[Movable]:
    """The assigned orders not picked up yet, on every courier online."""
    return [
        Movable(h.order, rider.courier(), tuple(rider.held), records[h.order.id].moves)
        for rider in riders
        if rider.online
        for h in rider.held
        if not h.picked_up
    ]


def _move(move: Move, record: OrderRecord, riders: dict[str, Rider], now: float) -> None:
    """Reassign: the order leaves its courier's route for the other's."""
    source, target = riders[move.source], riders[move.worker]
    held = {h.order.id: h for h in source.held}
    if record.courier != move.source or move.task not in held or held[move.task].picked_up:
        raise DispatchError(f"move of {move.task} from {move.source}: it does not hold it")
    if target.free_slots <= 0 or not target.online:
        raise DispatchError(f"move of {move.task} to {move.worker}: the courier has no room")
    source.stop_here(now)
    source.held = [h for h in source.held if h.order.id != move.task]
    target.held.append(HeldOrder(record.order))
    record.courier = move.worker
    record.moves += 1


def _cancel(
    record: OrderRecord,
    at: float,
    pool: dict[str, Order],
    riders: dict[str, Rider],
    history: History,
) -> int:
    """Cancel an order not yet picked up (1), or ignore a late cancellation (0)."""
    if record.picked_up_at is not None or record.delivered_at is not None:
        return 0
    order_id = record.order.id
    pool.pop(order_id, None)
    if record.courier is not None:
        rider = riders[record.courier]
        rider.stop_here(at)
        rider.held = [h for h in rider.held if h.order.id != order_id]
        history.unassigned(order_id, rider.id, "cancelled")
    else:
        history.cancelled(order_id)
    record.cancelled_at = at
    return 1
