"""The public surface of jarvis.models is pinned."""

from __future__ import annotations

import jarvis.models


def test_every_export_exists_and_is_listed() -> None:
    public = {name for name in dir(jarvis.models) if not name.startswith("_")}
    assert set(jarvis.models.__all__) <= public
    assert "decide_city" in jarvis.models.__all__
    assert "decide_store" in jarvis.models.__all__
    assert len(set(jarvis.models.__all__)) == len(jarvis.models.__all__)
