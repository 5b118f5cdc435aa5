"""The work dispenser's public surface, as re-exported by ``jarvis.store``."""

from __future__ import annotations

import jarvis.store

WORK_EXPORTS = {
    "Claim",
    "EnqueueRules",
    "GlobalWorkKeys",
    "QueuedWork",
    "WorkKeys",
    "WorkPolicy",
    "WorkQueue",
}


def test_work_dispenser_is_exported_from_the_store_package() -> None:
    assert set(jarvis.store.__all__) >= WORK_EXPORTS
    for name in WORK_EXPORTS:
        assert getattr(jarvis.store, name).__module__.startswith("jarvis.store.work")
