"""The public surface of ``jarvis.models`` checks itself (see tests/exports.py)."""

from __future__ import annotations

import jarvis.models
from tests.exports import check_exports


def test_the_models_package_exports_what_callers_use_and_nothing_else() -> None:
    check_exports(jarvis.models)
