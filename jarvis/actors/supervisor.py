"""The member's supervisor: one partition actor per owned partition.

ZooKeeper ownership events arrive through :class:`SupervisorListener` (the member's
:class:`~jarvis.election.OwnershipListener`), which never blocks: it flips the member-wide
gate at once on SUSPENDED/RESUMED and forwards everything else to the supervisor actor
with ``tell``. The supervisor starts and stops partition actors; an actor that releases
its partition tells the member itself, at its tick boundary.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pykka

from jarvis import metrics
from jarvis.actors.engine import PartitionEngine
from jarvis.actors.messages import Acquired, Forget, Lost, Release, ReleaseRequested
from jarvis.actors.partition import PartitionActor
from jarvis.actors.scheduler import Scheduler
from jarvis.election import PartitionInfo

__all__ = ["EngineFactory", "Gate", "MemberSupervisor", "SupervisorListener"]

log = logging.getLogger(__name__)

#: Builds the engine of a partition from its id, kind and config.
EngineFactory = Callable[[str, str, Mapping[str, Any]], PartitionEngine]


class Gate:
    """Whether partition actors may commit: false while ZooKeeper is SUSPENDED."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()

    def __call__(self) -> bool:
        return self._open.is_set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()


@dataclass
class _Running:
    epoch: int
    ref: pykka.ActorRef[PartitionActor]
    lost: threading.Event = field(default_factory=threading.Event)


class MemberSupervisor(pykka.ThreadingActor):
    def __init__(
        self,
        engines: EngineFactory,
        release_done: Callable[[str], None],
        *,
        interval: float,
        gate: Gate,
        scheduler: Scheduler | None = None,
    ) -> None:
        super().__init__()
        self.engines = engines
        self.release_done = release_done
        self.interval = interval
        self.gate = gate
        self.scheduler = scheduler or Scheduler()
        self.running: dict[str, _Running] = {}

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Acquired):
            self._acquired(message)
        elif isinstance(message, ReleaseRequested):
            self._release(message.partition)
        elif isinstance(message, Lost):
            self._lost(message.partition)
        elif isinstance(message, Forget):
            current = self.running.get(message.partition)
            if current is not None and current.epoch == message.epoch:
                del self.running[message.partition]
        else:
            log.warning("supervisor: unknown message %r", message)
        metrics.PARTITIONS_OWNED.set(len(self.running))
        return None

    def owned(self) -> dict[str, int]:
        """Partitions with a running actor, and their epochs (ask via the proxy)."""
        return {p: r.epoch for p, r in self.running.items()}

    def on_stop(self) -> None:
        for partition, running in list(self.running.items()):
            running.lost.set()
            running.ref.stop(block=True, timeout=10)
            log.info("partition %s: stopped with the member", partition)
        self.running.clear()
        self.scheduler.stop()

    def _acquired(self, msg: Acquired) -> None:
        current = self.running.pop(msg.partition, None)
        if current is not None:  # an older ownership's actor must not act any more
            current.lost.set()
            current.ref.stop(block=False)
        try:
            engine = self.engines(msg.partition, msg.kind, msg.config or {})
        except Exception:
            log.exception("partition %s: cannot build its %s engine", msg.partition, msg.kind)
            self.release_done(msg.partition)
            return
        me = self.actor_ref
        lost = threading.Event()
        gate = self.gate

        def may_commit() -> bool:
            return gate() and not lost.is_set()

        def released(partition: str, epoch: int) -> None:
            self.release_done(partition)
            metrics.OWNERSHIP_CHANGES.labels("released").inc()

        def stopped(partition: str, epoch: int) -> None:
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
        self.running[msg.partition] = _Running(msg.epoch, ref, lost)
        metrics.OWNERSHIP_CHANGES.labels("acquired").inc()

    def _release(self, partition: str) -> None:
        current = self.running.get(partition)
        if current is None:
            self.release_done(partition)  # nothing runs it here: free at once
            return
        current.ref.tell(Release())

    def _lost(self, partition: str) -> None:
        current = self.running.pop(partition, None)
        if current is None:
            return
        current.lost.set()  # takes effect before the actor's next commit
        current.ref.stop(block=False)
        metrics.OWNERSHIP_CHANGES.labels("lost").inc()
        log.warning("partition %s: ownership lost; actor stopped", partition)


class SupervisorListener:
    """The member's ownership listener: never blocks, hands everything to the supervisor."""

    def __init__(self, supervisor: pykka.ActorRef[MemberSupervisor], gate: Gate) -> None:
        self.supervisor = supervisor
        self.gate = gate

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        self.supervisor.tell(Acquired(partition.id, partition.kind, partition.config, epoch))

    def on_release_requested(self, partition_id: str) -> None:
        self.supervisor.tell(ReleaseRequested(partition_id))

    def on_lost(self, partition_id: str) -> None:
        self.supervisor.tell(Lost(partition_id))

    def on_suspended(self) -> None:
        self.gate.close()  # (the member counts connection events: count_connection_state)

    def on_resumed(self) -> None:
        self.gate.open()
