"""The public surface of ``jarvis.sim`` checks itself (see tests/exports.py)."""

from __future__ import annotations

import jarvis.sim
from jarvis.cli.simulate import POLICIES as CLI_POLICIES
from tests.exports import check_exports


def test_the_sim_package_exports_what_callers_use_and_nothing_else() -> None:
    check_exports(jarvis.sim)


def test_the_cli_offers_exactly_the_simulators_policies() -> None:
    assert CLI_POLICIES == jarvis.sim.POLICIES
