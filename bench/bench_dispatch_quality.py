"""Decision quality: one simulated city (jarvis.sim) under four dispatch policies.

The same seeded days (a 5 km square city, 60 restaurants, bike couriers of capacity 2,
30 s ticks, 5 % of offers declined) at the lunch peak (11:30-13:30, 90 orders an hour
at the top, 34 couriers: the fleet is busy about 80-90 % of its time) and off-peak
(15:00-17:00, the same fleet, about 30 % busy), under ``greedy`` (nearest idle courier),
``slots`` (today's independent slots), ``routes`` (route-aware costs) and ``bundling``
(route-aware costs and bundling); and two variants of ``routes``: ``routes_one_per_tick``
(a courier takes at most one new order per tick: the rules' ``max_tasks = 1``, which
``bundling`` applies by construction) and ``routes_reassign`` (reassignment on:
``reassign_max = 1``, the default 300 s threshold). Each window is run for several seeds
and their orders pooled. Rows report the KPIs (jarvis.sim.kpis), the share of courier
time busy, and each policy's ratios against ``slots``; the last rows check the issue's goals for
``bundling``: at peak at least 10 % lower mean click-to-door time and at least 25 % fewer
late orders, off-peak no KPI worse by more than 1 %.
"""

from __future__ import annotations

import time
from typing import Any

from jarvis.models import CityConfig
from jarvis.sim import Kpis, Scenario, SimResult, kpis, make_day, run_scenario

#: Row name -> the scenario settings of that row.
POLICIES: dict[str, dict[str, Any]] = {
    "greedy": {"policy": "greedy"},
    "slots": {"policy": "slots"},
    "routes": {"policy": "routes"},
    "bundling": {"policy": "bundling"},
    "routes_one_per_tick": {"policy": "routes", "max_tasks_per_tick": 1},
    "routes_reassign": {"policy": "routes", "city": CityConfig(reassign_max=1)},
}
BASELINE = "slots"
FLEET = 34
WINDOWS = {"peak": (11.5, 13.5), "off_peak": (15.0, 17.0)}
#: KPIs where lower is better; ``orders_per_courier_hour`` is the one where higher is.
LOWER_IS_BETTER = (
    "mean_click_to_door_s",
    "p90_click_to_door_s",
    "late_share",
    "mean_wait_s",
    "idle_share",
)


def _pooled(results: list[SimResult]) -> SimResult:
    return SimResult(
        policy=results[0].policy,
        records=tuple(r for result in results for r in result.records),
        online_s=sum(r.online_s for r in results),
        idle_s=sum(r.idle_s for r in results),
        ticks=sum(r.ticks for r in results),
        reassignments=sum(r.reassignments for r in results),
        max_held=max(r.max_held for r in results),
    )


def _window(name: str, seeds: tuple[int, ...], hours: float | None) -> dict[str, Kpis]:
    start, end = WINDOWS[name]
    end = start + hours if hours else end
    out = {}
    for row, settings in POLICIES.items():
        results = []
        for seed in seeds:
            scenario = Scenario(
                seed=seed,
                start_s=start * 3600,
                end_s=end * 3600,
                couriers=FLEET,
                orders_per_hour=90.0,
                radius_km=2.5,
                **settings,
            )
            results.append(run_scenario(scenario, make_day(scenario))[0])
        out[row] = kpis(_pooled(results), Scenario().city.promise_s)
    return out


def _worse(run: Kpis, base: Kpis) -> float:
    """The largest relative worsening of any KPI against ``base`` (0 when none)."""
    worst = 0.0
    for name in LOWER_IS_BETTER:
        a, b = float(getattr(run, name)), float(getattr(base, name))
        if b > 0:
            worst = max(worst, a / b - 1.0)
    a, b = run.orders_per_courier_hour, base.orders_per_courier_hour
    if a > 0:
        worst = max(worst, b / a - 1.0)
    return worst


def run(quick: bool = False) -> list[dict[str, Any]]:
    seeds = (11,) if quick else (11, 12, 13)
    rows: list[dict[str, Any]] = []
    figures: dict[str, dict[str, Kpis]] = {}
    for window in WINDOWS:
        started = time.perf_counter()
        figures[window] = _window(window, seeds, 1.0 if quick else None)
        base = figures[window][BASELINE]
        for policy, k in figures[window].items():
            row: dict[str, Any] = {"bench": "dispatch_quality", "window": window, "policy": policy}
            row.update(k.as_dict())
            row["busy_share"] = 1.0 - k.idle_share
            row["mean_click_to_door_vs_slots"] = k.mean_click_to_door_s / base.mean_click_to_door_s
            row["late_vs_slots"] = k.late_share / base.late_share if base.late_share else None
            row["worst_kpi_change_vs_slots"] = _worse(k, base)
            rows.append(row)
        rows[-1]["window_s"] = time.perf_counter() - started
    peak, off = figures["peak"], figures["off_peak"]
    mean_ratio = peak["bundling"].mean_click_to_door_s / peak[BASELINE].mean_click_to_door_s
    late_ratio = peak["bundling"].late_share / max(peak[BASELINE].late_share, 1e-9)
    off_worst = _worse(off["bundling"], off[BASELINE])
    rows.append(
        {
            "bench": "dispatch_quality.goal",
            "seeds": len(seeds),
            "peak_mean_ratio": mean_ratio,
            "peak_mean_goal_met": mean_ratio <= 0.90,
            "peak_late_ratio": late_ratio,
            "peak_late_goal_met": late_ratio <= 0.75,
            "off_peak_worst_change": off_worst,
            "off_peak_goal_met": off_worst <= 0.01,
        }
    )
    return rows
