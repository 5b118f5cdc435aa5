"""The public surface of ``jarvis.election`` checks itself (see tests/exports.py), and
election imports nothing above it."""

from __future__ import annotations

import jarvis.election
from tests.exports import check_exports


def test_the_election_package_exports_what_callers_use_and_nothing_else() -> None:
    check_exports(jarvis.election)


def test_election_imports_nothing_of_ours_but_models_errors_and_repeats() -> None:
    import ast
    from pathlib import Path

    package = Path(jarvis.election.__file__).parent
    # jarvis.repeats: the cross-cutting "log a repeated error once, with a count" (stdlib only).
    allowed = {"jarvis", "jarvis.errors", "jarvis.models", "jarvis.repeats"}
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jarvis"):
                name = node.module or ""
                assert name in allowed or name.startswith(("jarvis.election", "jarvis.models")), (
                    f"{module.name} imports {name}"
                )
