"""The member's supervisor: one partition actor per owned partition.

ZooKeeper ownership events arrive through :class:`SupervisorListener` (the member's
:class:`~jarvis.election.OwnershipListener`), which never blocks: it flips the member-wide
gate at once on SUSPENDED/RESUMED, sets an ownership's lost flag at once on ``on_lost``
(so a tick already running sees it before its commit), and forwards everything to the
supervisor actor with ``tell``. The supervisor starts and stops partition actors; an
actor that releases its partition tells the member itself, at its tick boundary. Every
message names the ownership (partition, epoch) it is about, so a late message about an
earlier ownership never touches a newer one.

The supervisor must outlive anything its handlers meet: an exception in a handler is
counted and logged (once per kind, then as a count: :class:`~jarvis.repeats.RepeatedErrors`)
and the supervisor goes on serving. A partition whose
engine cannot be built is refused (``Releases.refuse``): the member deletes its owner
node so another member can take it, and retries it itself only after a backoff.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pykka

from jarvis import metrics
from jarvis.actors.engine import PartitionEngine
from jarvis.actors.gates import Gate, LostFlags
from jarvis.actors.messages import Acquired, Forget, Lost, Release, ReleaseRequested
from jarvis.actors.partition import PartitionActor
from jarvis.actors.scheduler import Scheduler
from jarvis.election import PartitionInfo
from jarvis.repeats import RepeatedErrors

__all__ = ["EngineFactory", "MemberSupervisor", "Releases", "SupervisorListener"]

log = logging.getLogger(__name__)

#: Builds the engine of a partition from its id, kind and config.
EngineFactory = Callable[[str, str, Mapping[str, Any]], PartitionEngine]


class Releases(Protocol):
    """Where the supervisor says an ownership is over (the member, in production)."""

    def release_done(self, partition_id: str, epoch: int) -> None:
        """Ownership ``epoch`` is stopped and flushed: its owner node may go."""

    def refuse(self, partition_id: str, epoch: int, reason: str) -> None:
        """Ownership ``epoch`` cannot be run here: give the partition up for a while."""


@dataclass
class _Running:
    epoch: int
    ref: pykka.ActorRef[PartitionActor]


class MemberSupervisor(pykka.ThreadingActor):
    def __init__(
        self,
        engines: EngineFactory,
        releases: Releases,
        *,
        interval: float,
        gate: Gate,
        lost: LostFlags,
        scheduler: Scheduler | None = None,
    ) -> None:
        super().__init__()
        self.engines = engines
        self.releases = releases
        self.interval = interval
        self.gate = gate
        self.lost = lost
        self.scheduler = scheduler or Scheduler()
        self.running: dict[str, _Running] = {}
        #: Exceptions met by the handlers so far.
        self.failures = 0
        self._errors = RepeatedErrors(log)

    def on_receive(self, message: Any) -> Any:
        try:
            self._handle(message)
        except Exception as exc:
            self.failures += 1
            self._errors.error(exc, "supervisor: handling %r failed; still serving", message)
        metrics.PARTITIONS_OWNED.set(len(self.running))
        return None

    def _handle(self, message: Any) -> None:
        if isinstance(message, Acquired):
            self._acquired(message)
        elif isinstance(message, ReleaseRequested):
            self._release(message)
        elif isinstance(message, Lost):
            self._lost(message)
        elif isinstance(message, Forget):
            self._forget(message.partition, message.epoch)
        else:
            log.warning("supervisor: unknown message %r", message)

    def owned(self) -> dict[str, int]:
        """Partitions with a running actor, and their epochs (ask via the proxy)."""
        return {p: r.epoch for p, r in self.running.items()}

    def failure_count(self) -> int:
        """Exceptions the handlers met so far (ask via the proxy)."""
        return self.failures

    def on_stop(self) -> None:
        for partition, running in list(self.running.items()):
            self.lost.mark_lost(partition, running.epoch)
            running.ref.stop(block=True, timeout=10)
            self.lost.forget(partition, running.epoch)
            log.info("partition %s: stopped with the member", partition)
        self.running.clear()
        self.scheduler.stop()

    def _acquired(self, msg: Acquired) -> None:
        current = self.running.pop(msg.partition, None)
        if current is not None:  # an older ownership's actor must not act any more
            self.lost.mark_lost(msg.partition, current.epoch)
            self.lost.forget(msg.partition, current.epoch)
            current.ref.stop(block=False)
        lost = self.lost.flag(msg.partition, msg.epoch)
        if lost.is_set():  # lost before its actor could start
            self.lost.forget(msg.partition, msg.epoch)
            return
        try:
            engine = self.engines(msg.partition, msg.kind, msg.config or {})
        except Exception as exc:
            log.exception("partition %s: cannot build its %s engine", msg.partition, msg.kind)
            self.lost.forget(msg.partition, msg.epoch)
            self.releases.refuse(
                msg.partition, msg.epoch, f"cannot build its {msg.kind} engine: {exc!r}"
            )
            return
        me = self.actor_ref
        gate = self.gate
        releases = self.releases

        def may_commit() -> bool:
            return gate() and not lost.is_set()

        def released(partition: str, epoch: int) -> None:
            releases.release_done(partition, epoch)
            metrics.OWNERSHIP_CHANGES.labels("released").inc()

        def stopped(partition: str, epoch: int) -> None:
            with contextlib.suppress(pykka.ActorDeadError):  # the supervisor stopped first
                me.tell(Forget(partition, epoch))

        ref = PartitionActor.start(
            msg.partition,
            msg.epoch,
            engine,
            interval=self.interval,
            scheduler=self.scheduler,
            gate=may_commit,
            on_released=released,
            on_stopped=stopped,
        )
        self.running[msg.partition] = _Running(msg.epoch, ref)
        metrics.OWNERSHIP_CHANGES.labels("acquired").inc()

    def _release(self, msg: ReleaseRequested) -> None:
        current = self.running.get(msg.partition)
        if current is None or current.epoch != msg.epoch:
            # Nothing runs this ownership here: its owner node may go at once.
            self.releases.release_done(msg.partition, msg.epoch)
            return
        try:
            current.ref.tell(Release())
        except pykka.ActorDeadError:
            # The actor already stopped itself (a fenced write): nothing left to flush.
            log.info("partition %s: actor already stopped; released", msg.partition)
            self._forget(msg.partition, msg.epoch)
            self.releases.release_done(msg.partition, msg.epoch)

    def _lost(self, msg: Lost) -> None:
        self.lost.mark_lost(msg.partition, msg.epoch)  # (the listener did already)
        self.lost.forget(msg.partition, msg.epoch)
        current = self.running.get(msg.partition)
        if current is None or current.epoch != msg.epoch:
            return
        del self.running[msg.partition]
        current.ref.stop(block=False)
        metrics.OWNERSHIP_CHANGES.labels("lost").inc()
        log.warning("partition %s: ownership lost; actor stopped", msg.partition)

    def _forget(self, partition: str, epoch: int) -> None:
        """The actor of ownership ``epoch`` has stopped: drop it from the table."""
        current = self.running.get(partition)
        if current is not None and current.epoch == epoch:
            del self.running[partition]
            self.lost.forget(partition, epoch)


class SupervisorListener:
    """The member's ownership listener: never blocks, hands everything to the supervisor."""

    def __init__(
        self, supervisor: pykka.ActorRef[MemberSupervisor], gate: Gate, lost: LostFlags
    ) -> None:
        self.supervisor = supervisor
        self.gate = gate
        self.lost = lost

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        self.supervisor.tell(Acquired(partition.id, partition.kind, partition.config, epoch))

    def on_release_requested(self, partition_id: str, epoch: int) -> None:
        self.supervisor.tell(ReleaseRequested(partition_id, epoch))

    def on_lost(self, partition_id: str, epoch: int) -> None:
        # At once, on the member's thread: a tick already running checks this flag
        # right before its commit, whatever the supervisor's mailbox holds.
        self.lost.mark_lost(partition_id, epoch)
        self.supervisor.tell(Lost(partition_id, epoch))

    def on_suspended(self) -> None:
        self.gate.close()  # (the member counts connection events: count_connection_state)

    def on_resumed(self) -> None:
        self.gate.open()
