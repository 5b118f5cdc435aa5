"""The stuck-work rollups (deploy/prometheus/jarvis-rules.yml): per partition kind and for
the worst stores, checked and unit-tested by the real promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).parents[2] / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool is not None, "promtool is missing: `make setup` installs it (package prometheus)"
    return subprocess.run(
        [tool, *args], capture_output=True, text=True, timeout=60, check=False, cwd=DEPLOY
    )


def test_the_recording_rules_pass_promtool() -> None:
    checked = _promtool("check", "rules", "jarvis-rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout


def test_the_rollups_compute_what_their_unit_tests_expect() -> None:
    tested = _promtool("test", "rules", "jarvis-rules.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
