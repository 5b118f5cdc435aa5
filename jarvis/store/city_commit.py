"""A city tick's decisions to Redis: one fenced script that applies all of them or none.

See ``scripts/city_commit.lua``: every pair is checked (order open, courier online with
room; a move's order still assigned to its old courier), each courier's stop order
(jarvis.models.stops) is checked against what it holds afterwards, and only then is
anything written: assignments (or offers), moves, stop orders, the out stream's entries
and the tick marker.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

import orjson

from jarvis.errors import BadInputError
from jarvis.models.stops import Stop, stops_text
from jarvis.store.keys import PartitionKeys
from jarvis.store.replies import text
from jarvis.store.runner import ScriptRunner, check_epoch
from jarvis.store.specs import CITY_COMMIT, Arg

__all__ = ["ROUTE_CONFLICT", "CommitResult", "commit_tick"]

log = logging.getLogger(__name__)

#: How city_commit.lua starts the reason it refuses a courier's stop order for.
ROUTE_CONFLICT = "route of courier "


@dataclass(frozen=True)
class CommitResult:
    """Whether a commit was applied; when refused, the reasons (nothing changed)."""

    accepted: bool
    conflicts: tuple[str, ...] = ()
    marker: str = ""  # out-stream id of the tick marker, when accepted


def script_keys(keys: PartitionKeys) -> dict[str, str]:
    """``city_commit.lua``'s keys of a partition, by name."""
    return {
        "epoch": keys.epoch, "stats": keys.stats, "order_status": keys.order_status,
        "open": keys.open_orders, "assignments": keys.assignments,
        "courier_capacity": keys.courier_capacity, "courier_load": keys.courier_load,
        "courier_orders": keys.courier_orders, "online": keys.couriers_online,
        "out": keys.decisions_out, "offers": keys.offers, "reassigned": keys.reassigned,
        "courier_routes": keys.courier_routes,
    }  # fmt: skip


def _ids(*values: object) -> bool:
    return all(isinstance(x, str) and x for x in values)


def _flat(
    assignments: Sequence[tuple[str, str]], moves: Sequence[tuple[str, str, str]]
) -> list[str]:
    """The script's pairs argument: order, courier, from ('' for a new pair), order, ...

    Checked in bulk (the types of all ids in one pass, then whether any is empty); only
    when that fails is each pair looked at, for a message naming it. Checking every pair
    on its own was a Python call per pair, about a millisecond at 2,000 pairs.
    """
    flat: list[str] = []
    if set(map(len, assignments)) <= {2} and set(map(len, moves)) <= {3}:
        flat = [""] * (3 * (len(assignments) + len(moves)))
        at = 3 * len(assignments)
        flat[0:at:3] = map(itemgetter(0), assignments)
        flat[1:at:3] = map(itemgetter(1), assignments)
        for k in range(3):
            flat[at + k :: 3] = map(itemgetter(k), moves)
        ids = flat[0::3] + flat[1::3] + flat[at + 2 :: 3]
        if set(map(type, ids)) <= {str} and "" not in ids:
            return flat
    for pair in assignments:
        if len(pair) != 2 or not _ids(*pair):
            raise BadInputError(f"an assignment is (order id, courier id), got {pair!r}")
    for move in moves:
        if len(move) != 3 or not _ids(*move):
            raise BadInputError(f"a move is (order id, courier id, from id), got {move!r}")
    return flat  # every pair passed one by one: some id is a subclass of str


def commit_tick(
    scripts: ScriptRunner,
    keys: PartitionKeys,
    partition: str,
    out_maxlen: int,
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
    """Run ``city_commit.lua`` for one tick (see :meth:`jarvis.store.CityStore.commit`)."""
    if not math.isfinite(offer_timeout_s) or offer_timeout_s < 0:
        raise BadInputError(f"offer_timeout_s must be >= 0, got {offer_timeout_s!r}")
    check_epoch(epoch)
    if isinstance(tick, bool) or not isinstance(tick, int) or tick < 0:
        raise BadInputError(f"tick must be a non-negative integer, got {tick!r}")
    if not math.isfinite(now) or now < 0:
        raise BadInputError(f"now must be a finite unix time, got {now!r}")
    args: dict[str, Arg] = {"tick": tick, "now": float(now), "partition": partition,
            "out_maxlen": out_maxlen, "offer_ms": int(offer_timeout_s * 1000),
            "max_moves": int(max_moves)}  # fmt: skip
    flat = _flat(assignments, moves)
    # the stop orders of the couriers the commit gives orders to (an empty one is none)
    given = set(flat[1::3])
    stored: list[str] = []
    for courier, stops in (routes or {}).items():
        if stops and courier in given:
            stored += (courier, stops_text(stops))
    args["pairs"] = orjson.dumps(flat).decode()
    args["routes"] = orjson.dumps(stored).decode()
    reply = scripts.run(CITY_COMMIT, partition, script_keys(keys), args, epoch=epoch)
    if int(reply[0]) == 1:
        return CommitResult(True, (), text(reply[1]))
    conflicts = tuple(text(r) for r in reply[1:])
    # The caller says what it does about it (CityEngine logs it, or retries without
    # stop orders): a warning here too would log every refusal twice.
    log.debug("partition %s: commit of tick %d refused: %s", partition, tick, conflicts)
    return CommitResult(False, conflicts)
