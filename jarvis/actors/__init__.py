"""Pykka actors: the member's supervisor and one actor per owned partition."""

from jarvis.actors.engine import PartitionEngine, TickReport
from jarvis.actors.partition import PartitionActor
from jarvis.actors.scheduler import Scheduler
from jarvis.actors.supervisor import EngineFactory, Gate, MemberSupervisor, SupervisorListener

__all__ = [
    "EngineFactory",
    "Gate",
    "MemberSupervisor",
    "PartitionActor",
    "PartitionEngine",
    "Scheduler",
    "SupervisorListener",
    "TickReport",
]
