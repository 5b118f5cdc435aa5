"""The city simulator: a seeded day in one city, driven tick by tick through the real
decision code (no Redis), with the KPIs customers and couriers feel.

One module per concept: :mod:`~jarvis.sim.scenario` (settings), :mod:`~jarvis.sim.demand`
(orders over the day), :mod:`~jarvis.sim.restaurants`, :mod:`~jarvis.sim.couriers`
(shifts and riding), :mod:`~jarvis.sim.day` (a day's inputs), :mod:`~jarvis.sim.policies`,
:mod:`~jarvis.sim.engine` (the clock), :mod:`~jarvis.sim.kpis`, :mod:`~jarvis.sim.report`
and :mod:`~jarvis.sim.recorded` (a day from a partition's recorded stream).
"""

from jarvis.sim.day import Day, make_day
from jarvis.sim.engine import OrderRecord, SimResult, simulate
from jarvis.sim.kpis import KPI_NAMES, Kpis, kpis
from jarvis.sim.policies import Policy, policy_for
from jarvis.sim.recorded import recorded_day
from jarvis.sim.report import kpi_table, ratios
from jarvis.sim.scenario import POLICIES, Scenario, clock_seconds, load_scenario, scenario_from

__all__ = [
    "KPI_NAMES",
    "POLICIES",
    "Day",
    "Kpis",
    "OrderRecord",
    "Policy",
    "Scenario",
    "SimResult",
    "clock_seconds",
    "kpi_table",
    "kpis",
    "load_scenario",
    "make_day",
    "policy_for",
    "ratios",
    "recorded_day",
    "run_scenario",
    "scenario_from",
    "simulate",
]


def run_scenario(scenario: Scenario, day: Day | None = None) -> tuple[SimResult, Kpis]:
    """Simulate ``scenario`` (its seeded day unless ``day`` is given) and its KPIs."""
    result = simulate(
        day or make_day(scenario),
        policy_for(scenario),
        tick_s=scenario.tick_s,
        decline_share=scenario.decline_share,
        seed=scenario.seed,
        decline_cooldown_s=scenario.city.decline_cooldown_s,
        drain_s=scenario.drain_hours * 3600.0,
    )
    return result, kpis(result, scenario.city.promise_s)
