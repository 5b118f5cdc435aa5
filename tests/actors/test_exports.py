"""The public surface of ``jarvis.actors``, pinned."""

from __future__ import annotations

import jarvis.actors

SURFACE = {
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
}


def test_the_actors_package_exports_exactly_its_surface() -> None:
    assert set(jarvis.actors.__all__) == SURFACE
    for name in SURFACE:
        assert getattr(jarvis.actors, name) is not None, name
