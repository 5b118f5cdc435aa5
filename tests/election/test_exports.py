"""The public surface of jarvis.election is what its __all__ says, and nothing moves."""

from __future__ import annotations

import jarvis.election


def test_election_exports_exactly_its_public_surface() -> None:
    assert set(jarvis.election.__all__) == {
        "KINDS",
        "NAME",
        "ClusterPaths",
        "ClusterView",
        "DrainOutcome",
        "Member",
        "MemberOptions",
        "MemberRow",
        "OwnershipListener",
        "OwnershipRow",
        "PartitionInfo",
        "PartitionKind",
        "PartitionRegistry",
        "ZkAuth",
        "check_name",
        "connect",
    }
    for name in jarvis.election.__all__:
        assert getattr(jarvis.election, name) is not None


def test_election_imports_nothing_of_ours_but_models_and_errors() -> None:
    import ast
    from pathlib import Path

    package = Path(jarvis.election.__file__).parent
    allowed = {"jarvis", "jarvis.errors", "jarvis.models"}
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jarvis"):
                name = node.module or ""
                assert name in allowed or name.startswith(("jarvis.election", "jarvis.models")), (
                    f"{module.name} imports {name}"
                )
