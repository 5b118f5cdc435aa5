"""Pykka actors: the member's supervisor and one actor per owned partition."""

from jarvis.actors.engine import PartitionEngine, TickReport
from jarvis.actors.gates import Gate, LostFlags
from jarvis.actors.partition import PartitionActor
from jarvis.actors.scheduler import Scheduler
from jarvis.actors.supervisor import EngineFactory, MemberSupervisor, Releases, SupervisorListener

__all__ = [
    "EngineFactory",
    "Gate",
    "LostFlags",
    "MemberSupervisor",
    "PartitionActor",
    "PartitionEngine",
    "Releases",
    "Scheduler",
    "SupervisorListener",
    "TickReport",
]
