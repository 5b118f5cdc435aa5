"""`jarvis demo` (what `make run` runs), short: it dispatches, restarts, and judges."""

from __future__ import annotations

import io

from jarvis.cli.demo import run_demo


def test_a_short_demo_dispatches_through_a_rolling_restart_and_passes_the_checker() -> None:
    out = io.StringIO()
    result = run_demo(duration=24.0, out=out)
    text = out.getvalue()
    assert result.complete
    assert "rolling restart        done" in text
    for member in ("m1", "m2", "m3"):
        assert f"{member} restarted" in text
    assert result.report.assignments > 0
    assert result.report.safe
    assert result.report.unresolved == 0
    assert result.ok
    assert "verdict                OK" in text
