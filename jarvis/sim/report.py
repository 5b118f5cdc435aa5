"""KPI tables: one column per run, and each run against a baseline.

Times print in minutes and shares in per cent; ``vs`` columns print the ratio of a run's
figure to the baseline's (``0.90`` is 10 % lower).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from jarvis.sim.kpis import KPI_NAMES, Kpis

__all__ = ["LABELS", "kpi_table", "ratios"]

#: Each figure's label and how it prints.
LABELS: Mapping[str, tuple[str, str]] = {
    "orders": ("orders", "count"),
    "delivered": ("delivered", "count"),
    "undelivered": ("undelivered at the end", "count"),
    "cancelled": ("cancelled", "count"),
    "mean_click_to_door_s": ("click-to-door, mean (min)", "minutes"),
    "p90_click_to_door_s": ("click-to-door, p90 (min)", "minutes"),
    "late_share": ("late against promise (%)", "percent"),
    "mean_wait_s": ("wait before assignment, mean (min)", "minutes"),
    "orders_per_courier_hour": ("orders per courier-hour", "number"),
    "idle_share": ("courier idle share (%)", "percent"),
    "reassignments": ("reassignments", "count"),
    "declines": ("declined offers", "count"),
}


def _cell(value: float, kind: str) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if kind == "count":
        return str(int(value))
    if kind == "minutes":
        return f"{value / 60.0:.1f}"
    if kind == "percent":
        return f"{100.0 * value:.1f}"
    return f"{value:.2f}"


def ratios(run: Kpis, baseline: Kpis) -> dict[str, float]:
    """Each figure of ``run`` divided by the baseline's (NaN where the baseline is 0)."""
    out = {}
    for name in KPI_NAMES:
        base, value = float(getattr(baseline, name)), float(getattr(run, name))
        out[name] = value / base if base and not math.isnan(base) else float("nan")
    return out


def kpi_table(runs: Sequence[tuple[str, Kpis]], baseline: str | None = None) -> str:
    """A text table: a row per figure, a column per run, and when ``baseline`` names one
    of the runs, a ``vs <baseline>`` column after each other run."""
    base = dict(runs).get(baseline) if baseline else None
    header = ["KPI"]
    for name, _ in runs:
        header.append(name)
        if base is not None and name != baseline:
            header.append(f"vs {baseline}")
    rows = [header]
    for key in KPI_NAMES:
        label, kind = LABELS[key]
        row = [label]
        for name, figures in runs:
            row.append(_cell(getattr(figures, key), kind))
            if base is not None and name != baseline:
                ratio = ratios(figures, base)[key]
                row.append("-" if math.isnan(ratio) else f"{ratio:.2f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join(lines)
