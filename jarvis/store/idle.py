"""Idle ticks: an owner's tick of a partition where nothing happened, in one round trip.

Most partitions of a big member are idle most of the time: no new event, no open work.
Their full tick (a store: reap, apply, score, counts, signals; a city: apply, snapshot,
commit) would cost five or more round trips to learn that. Instead the owner first runs
one fenced script (``work_idle.lua``, ``city_idle.lua``) that checks whether anything
needs the full tick and, if nothing does, records the tick exactly as an empty commit
does (a ``tick`` marker on the out stream; ``tick``, ``last_tick_at``, ``last_epoch`` in
stats; and ``idle_ticks`` counted). Otherwise it writes nothing (but the fencing epoch)
and the owner runs the full tick.

So a partition's last tick means the same for an idle partition as for a busy one: its
owner, with that epoch, looked at it at that time and did everything there was to do.
A deposed owner is refused (FencedError) before anything is written.
"""

from __future__ import annotations

from typing import NamedTuple

from jarvis.store.city import CityStore
from jarvis.store.replies import text
from jarvis.store.specs import CITY_IDLE, WORK_IDLE
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue

__all__ = ["IdleTick", "city_idle_tick", "store_idle_tick"]


class IdleTick(NamedTuple):
    """An idle tick recorded: its marker's out-stream id, and (stores) the dead-set size."""

    marker: str
    dead: int = 0


def store_idle_tick(
    work: WorkQueue, ticks: CityStore, store: str, epoch: int, tick: int, now: float
) -> IdleTick | None:
    """Record tick ``tick`` of ``store`` if the store is idle; None if it needs the full
    tick (nothing written then). ``ticks`` holds the store's tick marker (its out stream
    and stats, shared with cities)."""
    keys = WorkKeys(store, work.namespace)
    part = keys.partition
    reply = work.scripts.run(
        WORK_IDLE,
        store,
        {"epoch": part.epoch, "stats": part.stats, "cursor": part.cursor, "in": part.events_in,
         "heads": keys.heads, "claims": keys.claims, "leases": keys.leases, "done": keys.done,
         "dead_at": keys.dead_at, "out": part.decisions_out},
        {"tick": tick, "now": float(now),
         "forget_before": float(work.clock() - work.done_retention_s), "partition": store,
         "out_maxlen": ticks.out_maxlen},
        epoch=epoch,
    )  # fmt: skip
    if int(reply[0]) != 1:
        return None
    return IdleTick(text(reply[1]), int(reply[2]))


def city_idle_tick(city: CityStore, epoch: int, tick: int, now: float) -> IdleTick | None:
    """Record tick ``tick`` of ``city`` if it is idle (no new event, no open order);
    None if it needs the full tick (nothing written then)."""
    k = city.keys
    reply = city.scripts.run(
        CITY_IDLE,
        city.partition,
        {"epoch": k.epoch, "stats": k.stats, "cursor": k.cursor, "in": k.events_in,
         "open": k.open_orders, "out": k.decisions_out, "offers": k.offers},
        {"tick": tick, "now": float(now), "partition": city.partition,
         "out_maxlen": city.out_maxlen},
        epoch=epoch,
    )  # fmt: skip
    if int(reply[0]) != 1:
        return None
    return IdleTick(text(reply[1]))
