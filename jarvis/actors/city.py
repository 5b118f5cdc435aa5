"""The city engine: apply events, snapshot, solve, one fenced commit; an idle city (no
new event, no open order) only records its tick, in one round trip (jarvis.store.idle).

When too few replicas confirm the events it applied (an unknown outcome), the tick still
decides from what Redis holds and commits, then raises the NotReplicatedError: the
partition actor then reloads the partition before its next tick.

The commit refuses the whole tick when a courier's planned stop order disagrees with
what the courier holds. Within a tick nothing else changes the city, so that can only be
a planning defect; left alone it would refuse every tick of the city from then on. So a
tick refused for stop orders alone is committed again without them (each courier keeps
its stored stop order, new orders last): the city keeps dispatching on slightly worse
routes, and the defect is logged once, then counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from jarvis.actors.engine import TickReport
from jarvis.errors import NotReplicatedError
from jarvis.models import CityConfig, Rules, decide_city
from jarvis.models.reassign import find_moves, tick_routes
from jarvis.repeats import RepeatedErrors
from jarvis.store.city import ApplyResult, CityStore
from jarvis.store.city_commit import ROUTE_CONFLICT, CommitResult
from jarvis.store.idle import IdleProbe, city_idle_call

__all__ = ["CityEngine"]

log = logging.getLogger(__name__)

#: Stop orders the commit refused, across every city of the member (see the docstring).
BAD_STOP_ORDERS = RepeatedErrors(log, traceback=False)


class _StopOrderError(Exception):
    """A tick's commit was refused for its stop orders alone (a planning defect)."""


class CityEngine:
    """Couriers to orders for one city."""

    kind = "city"

    def __init__(
        self, store: CityStore, config: CityConfig | None = None, rules: Rules | None = None
    ) -> None:
        self.store = store
        self.config = config or CityConfig()
        self.rules = rules
        self.idle = IdleProbe(store.scripts, lambda e, t, now: city_idle_call(store, e, t, now))

    def load(self) -> tuple[int, float | None]:
        return self.store.last_tick()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        if may_commit() and self.idle.check(epoch, tick, now) is not None:
            return TickReport(tick, idle=True)  # nothing new, no open order: one round trip
        unconfirmed: NotReplicatedError | None = None
        try:
            applied = self.store.apply_events(epoch, now=now if self.config.acceptance else None)
        except NotReplicatedError as exc:
            # Applied or not, we cannot tell: decide from what Redis holds now (the
            # snapshot re-reads it), then report the unknown outcome after the commit.
            unconfirmed, applied = exc, ApplyResult(0, 0, 0, "")
        reassign = self.config.reassign_max > 0
        snapshot = self.store.snapshot(movable=reassign)
        started = time.perf_counter()
        decision = decide_city(
            snapshot.orders,
            snapshot.couriers,
            now,
            self.config,
            rules=self.rules,
            held=snapshot.held,
            declines=snapshot.declines,
        )
        moves = (
            find_moves(
                decision,
                snapshot.orders,
                snapshot.couriers,
                now,
                self.config,
                self.rules,
                held=snapshot.held,
                movable=snapshot.movable,
                declines=snapshot.declines,
            )
            if reassign
            else ()
        )
        solve_seconds = time.perf_counter() - started
        pairs = [(a.task, a.worker) for a in decision.assignments]
        if not may_commit():
            log.warning("tick %s: not committing, the member is paused or lost ownership", tick)
            return TickReport(tick, applied.applied, applied.dead_lettered, committed=False)
        offer_s = self.config.offer_timeout_s if self.config.acceptance else 0.0

        def commit(with_routes: bool) -> CommitResult:
            return self.store.commit(
                epoch,
                tick,
                pairs,
                now,
                offer_timeout_s=offer_s,
                moves=[(m.task, m.worker, m.source) for m in moves],
                max_moves=self.config.reassign_max,
                routes=tick_routes(decision, moves) if with_routes else None,
            )

        result = commit(with_routes=True)
        if result.conflicts and all(c.startswith(ROUTE_CONFLICT) for c in result.conflicts):
            BAD_STOP_ORDERS.error(
                _StopOrderError("a planned stop order disagrees with what its courier holds"),
                "city %s: tick %s committed again without its stop orders (refused: %s)",
                self.store.partition,
                tick,
                "; ".join(result.conflicts),
            )
            result = commit(with_routes=False)
        if not result.accepted:
            log.warning(
                "city %s: tick %s: commit refused: %s",
                self.store.partition,
                tick,
                "; ".join(result.conflicts),
            )
        if unconfirmed is not None:
            raise unconfirmed
        return TickReport(
            tick=tick,
            applied=applied.applied,
            dead_lettered=applied.dead_lettered,
            open_tasks=len(snapshot.orders),
            free_workers=len(snapshot.couriers),
            assigned=len(pairs) if result.accepted else 0,
            committed=result.accepted,
            solve_seconds=solve_seconds,
        )
