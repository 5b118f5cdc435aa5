"""`jarvis simulate`: the KPI table, JSON, and exit code 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jarvis.cli import main

SMALL = ["--seed", "2", "--start", "12:00", "--hours", "0.25", "--couriers", "4"]
SMALL += ["--orders-per-hour", "30"]


def test_simulate_prints_a_kpi_table_per_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", *SMALL, "--policy", "greedy,routes"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["KPI", "greedy", "routes", "vs", "greedy"]
    assert "click-to-door, mean (min)" in out
    assert "late against promise (%)" in out


def test_simulate_json_has_every_kpi_of_every_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", *SMALL, "--policy", "all", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document["runs"]) == {"greedy", "slots", "routes", "bundling"}
    for figures in document["runs"].values():
        assert figures["orders"] == document["runs"]["greedy"]["orders"] > 0
        assert figures["reassignments"] == 0


def test_flags_override_the_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "city.yaml"
    path.write_text("couriers: 50\npolicy: slots\nstart: '12:00'\nhours: 0.25\n")
    assert main(["simulate", "--config", str(path), "--couriers", "3", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document["runs"]) == ["slots"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "fastest"], "unknown policy"),
        (["--couriers", "0"], "must be at least 1"),
        (["--orders-per-hour", "-3"], "must be a positive number"),
        (["--start", "25:00"], "not a time of day"),
        (["--start", "14:00", "--end", "13:00"], "start < end"),
        (["--end", "13:00", "--hours", "2"], "not allowed with"),
        (["--config", "/nonexistent/city.yaml"], "cannot read"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(["simulate", *argv]) == 2
    assert message in capsys.readouterr().err


def _exit_code(argv: list[str]) -> int:
    """What the command exits with, whether argparse or the handler refuses the input."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
