"""The idle checks of several partitions' due ticks in one Redis round trip.

A scheduler worker that takes several due ticks at once (:class:`ScheduledTick`, batched
by :class:`~jarvis.actors.scheduler.Scheduler` when they share one script runner) first
sends every partition's idle-tick script (:class:`~jarvis.store.idle.IdleProbe`) in one
pipeline per Redis node (:func:`~jarvis.store.idle_batch.check_many`: one node if standalone,
the calls grouped by the primary of their slot in a Redis Cluster, one ``WAIT`` per
pipeline when replicas must confirm), holding each partition actor's serial lock, then
runs each tick as usual: an idle partition's engine finds its outcome already there and
records nothing more, a busy one runs its full tick. Each script is still one fenced,
atomic call of one partition (a pipeline is not a transaction); only the round trips
are shared.

A partition whose lock is taken (its actor is releasing it), or that is not loaded yet,
lost, paused or not on the idle path, is left out of the pipeline and ticks on its own
afterwards. A reply that is an error (a stale epoch, a Redis failure) is not kept: that
partition's tick then runs its own check and meets the error the usual way; but an idle
marker that too few replicas confirmed is kept, and its tick reports it of unknown
outcome as a tick alone would (checking again would record the tick twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from jarvis.store.idle import IdleCall, IdleProbe
from jarvis.store.idle_batch import check_many

if TYPE_CHECKING:
    from jarvis.actors.partition import PartitionActor

__all__ = ["ScheduledTick", "run_pipelined"]

log = logging.getLogger(__name__)


class ScheduledTick:
    """A partition actor's tick due at ``due`` (monotonic seconds), as the scheduler
    runs it: alone (``tick()``) or with others of the same script runner."""

    __slots__ = ("actor", "due")

    def __init__(self, actor: PartitionActor, due: float) -> None:
        self.actor = actor
        self.due = due

    def __call__(self) -> None:
        self.actor.scheduled_tick(self.due)

    @property
    def batch_key(self) -> object | None:
        """The script runner of the partition's idle checks (None: no idle path)."""
        return self.actor.batch_key

    @property
    def probe(self) -> IdleProbe | None:
        probe = getattr(self.actor.engine, "idle", None)
        return probe if isinstance(probe, IdleProbe) else None

    def run_batch(self, batch: Sequence[Callable[[], None]]) -> None:
        run_pipelined([t for t in batch if isinstance(t, ScheduledTick)])
        for other in batch:  # anything else the scheduler grouped (never, today)
            if not isinstance(other, ScheduledTick):
                other()


def run_pipelined(ticks: Sequence[ScheduledTick]) -> None:
    """Run ``ticks`` (of partitions served by one script runner), their idle checks
    sent in one pipeline first; see the module docstring."""
    held: dict[int, ScheduledTick] = {}  # by id(): each lock is let go after its tick
    calls: list[tuple[IdleProbe, IdleCall]] = []
    try:
        for tick in ticks:
            if not tick.actor.serial.acquire(blocking=False):
                continue  # its actor is busy (a release): it ticks on its own below
            held[id(tick)] = tick
            probe = tick.probe
            call = tick.actor.idle_call() if probe is not None else None
            if probe is not None and call is not None:
                calls.append((probe, call))
        if calls:
            _prefetch(calls)
        for tick in ticks:
            tick()
            if held.pop(id(tick), None) is not None:
                tick.actor.serial.release()  # a release waits for this tick only
    finally:
        for tick in held.values():
            tick.actor.serial.release()


def _prefetch(calls: Sequence[tuple[IdleProbe, IdleCall]]) -> None:
    results = check_many(calls[0][0].runner, [call for _, call in calls])
    for (probe, call), result in zip(calls, results, strict=True):
        probe.prefetch(call, result)
