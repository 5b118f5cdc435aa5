"""The public surface of ``jarvis.actors`` checks itself (see tests/exports.py)."""

from __future__ import annotations

import jarvis.actors
from tests.exports import check_exports


def test_the_actors_package_exports_what_callers_use_and_nothing_else() -> None:
    check_exports(jarvis.actors)
