"""The public surfaces of ``jarvis.store`` and ``jarvis.store.work`` check themselves
(see tests/exports.py)."""

from __future__ import annotations

import jarvis.store
import jarvis.store.work
from tests.exports import check_exports


def test_the_store_package_exports_what_callers_use_and_nothing_else() -> None:
    check_exports(jarvis.store)


def test_the_work_dispenser_exports_what_callers_use_and_nothing_else() -> None:
    check_exports(jarvis.store.work)
