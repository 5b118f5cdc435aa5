"""The actor that runs one owned partition: a tick at a time, never two at once.

Life of a partition actor:

1. started by the supervisor when the member acquires the partition, with its epoch;
2. ``on_start`` loads what it needs from Redis and schedules the first tick at once;
3. each tick (run by a scheduler worker, see below; or asked for with a
   :class:`~jarvis.actors.messages.Tick` message) runs one decision round, then schedules
   the next one (fixed rate: a slow tick delays the next, never stacks them);
4. :class:`~jarvis.actors.messages.Release` arrives between two ticks (the mailbox is
   serial): the actor runs one last tick, stops ticking, tells the member the
   partition is free and stops.

Ticks run on the scheduler's bounded workers (see :mod:`jarvis.actors.scheduler`): a
worker runs the partition's tick itself, holding the actor's serial lock, which the
actor also holds while it handles a message (a release, a tick asked for) and while it
stops. So the actor stays the unit of ownership and of serial execution (one tick at a
time, never during a release, none after the actor stopped), a member runs at most as
many ticks at once as it has workers, and a tick costs no hand-over between two threads
(it used to: the worker asked the actor and waited for its answer, two thread wake-ups
per tick, 40 to 70 % of the GIL-holding samples of a member with 2,000 partitions). A
worker that takes several due ticks at once first sends their idle checks in one Redis
pipeline (:mod:`jarvis.actors.pipelined`). How late each tick starts is observed
(``jarvis_tick_lateness_seconds``).

A failing tick is counted and the partition keeps ticking; the first failure of a kind is
logged with its traceback and the next ones as a count now and then
(:class:`~jarvis.repeats.RepeatedErrors`, shared by every partition of the member). When
its writes were not confirmed by enough replicas (outcome unknown), the next tick first
loads the partition's state from Redis again (logged the same way, as a warning). A
fenced commit means another member owns the partition now: the actor stops acting for it at once.
While the member's ZooKeeper connection is suspended, ``gate()`` is false: ticks still
apply events but commit nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from jarvis import metrics
from jarvis.actors.engine import PartitionEngine
from jarvis.actors.loads import LOADS
from jarvis.actors.messages import Release, Tick
from jarvis.actors.pipelined import ScheduledTick
from jarvis.actors.scheduler import Scheduler
from jarvis.errors import FencedError, NotReplicatedError
from jarvis.repeats import RepeatedErrors
from jarvis.store.idle import IdleCall, IdleProbe

__all__ = ["PartitionActor"]

log = logging.getLogger(__name__)

#: Tick failures of every partition actor of the process, logged once per kind and then
#: as a count (a shared outage would otherwise log one traceback per partition per tick).
TICK_FAILURES = RepeatedErrors(log)
#: Writes whose replication was not confirmed, logged the same way (as warnings).
NOT_REPLICATED = RepeatedErrors(log, level=logging.WARNING)


class PartitionActor(pykka.ThreadingActor):
    def __init__(
        self,
        partition: str,
        epoch: int,
        engine: PartitionEngine,
        *,
        interval: float,
        scheduler: Scheduler,
        gate: Callable[[], bool],
        on_released: Callable[[str, int], None],
        on_stopped: Callable[[str, int], None],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        failures: RepeatedErrors = TICK_FAILURES,
    ) -> None:
        super().__init__()
        self.partition = partition
        self.epoch = epoch
        self.engine = engine
        self.interval = interval
        self.scheduler = scheduler
        self.gate = gate
        self.on_released = on_released
        self.on_stopped = on_stopped
        self.clock = clock
        self.monotonic = monotonic
        self.failures = failures
        self.lost = threading.Event()
        # Held by whoever runs this partition's code: a tick (on a scheduler worker or,
        # for a Tick message, the actor's thread), a release, the stop.
        self._serial = threading.RLock()
        self.tick_no = 0
        self._loaded = False
        self._stopped_reported = False
        # Log context (jarvis.logs shows it); "tick" is updated as ticks run.
        self._context: dict[str, Any] = {
            "partition": partition,
            "epoch": epoch,
            "kind": engine.kind,
            "tick": None,
        }
        self._log = logging.LoggerAdapter(log, self._context)
        # The metrics of this partition's kind, looked up once (labels() costs a lock
        # and a dict look-up each, six times a tick).
        kind = engine.kind
        self._lateness = metrics.TICK_LATENESS.labels(kind)
        self._ticks = metrics.TICKS.labels(kind)
        self._idle_ticks = metrics.IDLE_TICKS.labels(kind)
        self._assignments = metrics.ASSIGNMENTS.labels(kind)
        self._solve_seconds = metrics.SOLVE_SECONDS.labels(kind)
        self._tick_seconds = metrics.TICK_SECONDS.labels(kind)
        probe = getattr(engine, "idle", None)
        #: Ticks of partitions with the same key may have their idle checks batched
        #: (:mod:`jarvis.actors.pipelined`): the runner of the engine's idle probe.
        self.batch_key: object | None = probe.runner if isinstance(probe, IdleProbe) else None

    # --- lifecycle ------------------------------------------------------------------

    def on_start(self) -> None:
        self._log.info("partition %s: acting as owner with epoch %s", self.partition, self.epoch)
        self._schedule(self.monotonic())  # the first tick loads state, at once

    def on_stop(self) -> None:
        self._finished()

    def on_failure(self, *exc_info: Any) -> None:
        self._finished()  # pykka does not call on_stop after a failure

    def _finished(self) -> None:
        with self._serial:  # after a tick that is running, before any other
            self.lost.set()
            metrics.forget_partition(self.partition)  # no stale gauge for a partition not run here
            LOADS.forget(self.partition)
            self.scheduler.cancel(self._key)
        if not self._stopped_reported:
            self._stopped_reported = True
            self.on_stopped(self.partition, self.epoch)

    # --- messages -------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Tick):
            with self._serial:
                self._tick(message.due)
        elif isinstance(message, Release):
            with self._serial:
                self._release()
        else:
            self._log.warning("partition %s: unknown message %r", self.partition, message)
        return None

    @property
    def _key(self) -> str:
        return f"tick:{self.partition}"

    def _schedule(self, due: float) -> None:
        self.scheduler.schedule(self._key, due, ScheduledTick(self, due))

    def scheduled_tick(self, due: float) -> None:
        """The tick due at ``due``, run on a scheduler worker (skipped once stopped)."""
        with self._serial:
            self._tick(due)

    @property
    def serial(self) -> threading.RLock:
        """Held by whoever runs this partition's code (see ``__init__``)."""
        return self._serial

    def idle_call(self) -> IdleCall | None:
        """The idle-tick call of this partition's next tick, to send in a pipeline with
        other partitions' (:mod:`jarvis.actors.pipelined`); None when the next tick
        will not try the idle path first (not loaded yet, lost, paused, or the engine
        says so). Call it holding :attr:`serial`."""
        probe = getattr(self.engine, "idle", None)
        if not isinstance(probe, IdleProbe) or not self._loaded or not self._may_commit():
            return None
        return probe.call(self.epoch, self.tick_no + 1, self.clock())

    def _may_commit(self) -> bool:
        return not self.lost.is_set() and self.gate()

    def _tick(self, due: float, reschedule: bool = True) -> None:
        if self.lost.is_set():
            return
        kind = self.engine.kind
        if reschedule:
            self._lateness.observe(max(0.0, self.monotonic() - due))
        started = time.perf_counter()
        try:
            self._context["tick"] = self._next_tick_number()
            report = self.engine.tick(self.epoch, self.tick_no, self.clock(), self._may_commit)
        except FencedError as exc:
            metrics.FENCED_COMMITS.labels(kind).inc()
            self._log.warning("partition %s: %s; stopping", self.partition, exc)
            self.lost.set()
            with contextlib.suppress(pykka.ActorDeadError):  # stopping already
                self.stop()
            return
        except NotReplicatedError as exc:
            # Outcome unknown (the write may vanish in a failover): act on nothing this tick
            # believed it wrote; the next tick loads the partition again from Redis.
            metrics.TICK_ERRORS.labels(kind).inc()
            NOT_REPLICATED.error(
                exc, "partition %s: tick %s: outcome unknown", self.partition, self.tick_no,
                extra=self._context,
            )  # fmt: skip
            self._loaded = False
        except Exception as exc:
            metrics.TICK_ERRORS.labels(kind).inc()
            self.failures.error(
                exc, "partition %s: tick %s failed", self.partition, self.tick_no,
                extra=self._context,
            )  # fmt: skip
        else:
            self._ticks.inc()
            if report.idle:
                self._idle_ticks.inc()
            else:
                self._assignments.inc(report.assigned)
                self._solve_seconds.observe(report.solve_seconds)
            metrics.TASKS_OPEN.labels(self.partition).set(report.open_tasks - report.assigned)
            LOADS.record(self.partition, report.open_tasks)
            if report.dead_lettered:
                metrics.DEAD_LETTERS.labels(kind).inc(report.dead_lettered)
            self._log.debug(
                "partition %s tick %s: %s open, %s free, %s assigned, committed=%s",
                self.partition,
                self.tick_no,
                report.open_tasks,
                report.free_workers,
                report.assigned,
                report.committed,
            )
        self._tick_seconds.observe(time.perf_counter() - started)
        # Fixed rate: the next tick is one interval after this one was due, or now if late.
        if reschedule and not self.lost.is_set():
            self._schedule(max(due + self.interval, self.monotonic()))

    def _next_tick_number(self) -> int:
        """The next tick number; the first call loads the engine and continues the
        partition's numbering from the previous owner's last tick."""
        if not self._loaded:
            last_tick, last_tick_at = self.engine.load()
            self.tick_no = last_tick
            self._loaded = True
            if last_tick_at is not None:
                metrics.HANDOFF_GAP_SECONDS.observe(max(0.0, self.clock() - last_tick_at))
        self.tick_no += 1
        return self.tick_no

    def _release(self) -> None:
        self.scheduler.cancel(self._key)
        # A last decision round right at the handoff: the successor's first tick follows
        # within the handoff latency, so the partition's gap between two decisions stays
        # within one tick interval however the release falls between two ticks.
        if not self.lost.is_set():
            self._tick(self.monotonic(), reschedule=False)
        self.lost.set()  # no more ticks from this actor, whatever is still queued
        self._log.info("partition %s: released after tick %s", self.partition, self.tick_no)
        self.on_released(self.partition, self.epoch)
        self.stop()
