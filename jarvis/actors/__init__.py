"""Pykka actors: the member's supervisor and one actor per owned partition."""

from jarvis.actors.city import CityEngine
from jarvis.actors.engine import PartitionEngine, TickReport
from jarvis.actors.gates import Gate, LostFlags
from jarvis.actors.loads import LOADS
from jarvis.actors.partition import PartitionActor
from jarvis.actors.scheduler import Scheduler
from jarvis.actors.store import StoreEngine
from jarvis.actors.supervisor import EngineFactory, MemberSupervisor, Releases, SupervisorListener

__all__ = [
    "LOADS",
    "CityEngine",
    "EngineFactory",
    "Gate",
    "LostFlags",
    "MemberSupervisor",
    "PartitionActor",
    "PartitionEngine",
    "Releases",
    "Scheduler",
    "StoreEngine",
    "SupervisorListener",
    "TickReport",
]
