"""The public surfaces of ``jarvis`` and ``jarvis.cli`` check themselves (see
tests/exports.py; each subpackage's tests check their own)."""

from __future__ import annotations

import jarvis
import jarvis.cli
from tests.exports import check_exports


def test_the_root_package_exports_only_its_version() -> None:
    check_exports(jarvis)
    assert jarvis.__all__ == ["__version__"]


def test_the_cli_package_exports_what_callers_use_and_nothing_else() -> None:
    check_exports(jarvis.cli)
