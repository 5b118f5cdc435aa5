"""The public surface of the city store, pinned."""

from __future__ import annotations

import jarvis.models.events
import jarvis.store

CITY_SURFACE = {
    "ApplyResult",
    "CitySnapshot",
    "CityStore",
    "CommitResult",
    "DecisionRecord",
    "Producer",
    "read_decisions",
}


def test_the_store_package_exports_the_city_surface() -> None:
    assert set(jarvis.store.__all__) >= CITY_SURFACE
    for name in jarvis.store.__all__:
        assert getattr(jarvis.store, name) is not None, name


def test_every_name_of_the_events_module_exists() -> None:
    for name in jarvis.models.events.__all__:
        assert hasattr(jarvis.models.events, name), name
    assert "parse_event" in jarvis.models.events.__all__
