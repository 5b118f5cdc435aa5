"""The HTTP interface's public surface, as re-exported by ``jarvis.api``."""

from __future__ import annotations

import jarvis.api


def test_http_interface_is_exported_from_the_api_package() -> None:
    assert set(jarvis.api.__all__) == {"ApiContext", "HttpServer", "create_app"}
    for name in jarvis.api.__all__:
        assert getattr(jarvis.api, name).__module__.startswith("jarvis.api.")
