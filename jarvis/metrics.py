"""Prometheus metrics of a member, served by the HTTP interface at ``/metrics``.

Names follow Prometheus conventions (``jarvis_`` prefix, ``_total`` counters, ``_seconds``
histograms). Per-partition labels are used only where the partition count stays small
(tasks open); everything else is labelled by partition kind.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ASSIGNMENTS",
    "CONNECTION_STATES",
    "DEAD_LETTERS",
    "FENCED_COMMITS",
    "GET_WORK_SECONDS",
    "GET_WORK_WAITING",
    "HANDOFF_GAP_SECONDS",
    "OWNERSHIP_CHANGES",
    "PARTITIONS_OWNED",
    "SOLVE_SECONDS",
    "TASKS_OPEN",
    "TICKS",
    "TICKS_WAITING",
    "TICK_ERRORS",
    "TICK_LAG_SECONDS",
    "TICK_LATENESS",
    "TICK_SECONDS",
    "count_connection_state",
]

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TICK_SECONDS = Histogram("jarvis_tick_seconds", "Duration of a whole tick", ["kind"], buckets=_FAST)
SOLVE_SECONDS = Histogram(
    "jarvis_solve_seconds", "Duration of the solver within a tick", ["kind"], buckets=_FAST
)
TICKS = Counter("jarvis_ticks_total", "Ticks run", ["kind"])
TICK_ERRORS = Counter(
    "jarvis_tick_errors_total", "Ticks that raised (partition kept running)", ["kind"]
)
TICK_LATENESS = Histogram(
    "jarvis_tick_lateness_seconds",
    "How late a tick started after it was due (waiting for a free tick worker)",
    ["kind"],
    buckets=_FAST,
)
TICKS_WAITING = Gauge("jarvis_ticks_waiting", "Ticks due that wait for a free tick worker")
TICK_LAG_SECONDS = Gauge(
    "jarvis_tick_lag_seconds",
    "How late the oldest waiting tick is; above one tick interval the member is over capacity",
)
ASSIGNMENTS = Counter("jarvis_assignments_total", "Assignments committed", ["kind"])
TASKS_OPEN = Gauge("jarvis_tasks_open", "Open, unassigned tasks at the last tick", ["partition"])
PARTITIONS_OWNED = Gauge("jarvis_partitions_owned", "Partitions this member runs")
OWNERSHIP_CHANGES = Counter(
    "jarvis_ownership_changes_total", "Partitions acquired, released or lost", ["change"]
)
HANDOFF_GAP_SECONDS = Histogram(
    "jarvis_handoff_gap_seconds",
    "On acquisition: time since the previous owner's last tick of the partition",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
CONNECTION_STATES = Counter(
    "jarvis_zookeeper_connection_states_total",
    "ZooKeeper connection events: suspended, lost, connected, stepped_down, server_left",
    ["state"],
)
FENCED_COMMITS = Counter(
    "jarvis_fenced_commits_total", "Writes refused because a newer epoch exists", ["kind"]
)
DEAD_LETTERS = Counter("jarvis_dead_letters_total", "Events sent to a dead-letter stream", ["kind"])
GET_WORK_SECONDS = Histogram(
    "jarvis_get_work_seconds", "Latency of get-work", ["path"], buckets=_FAST
)
GET_WORK_WAITING = Gauge(
    "jarvis_get_work_waiting", "Get-work requests waiting for work (found none at first)"
)


def count_connection_state(state: str) -> None:
    """Count one ZooKeeper connection event (the member's ``on_connection`` hook)."""
    CONNECTION_STATES.labels(state).inc()
