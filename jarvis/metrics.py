"""Prometheus metrics of a member, served by the HTTP interface at ``/metrics``.

Names follow Prometheus conventions (``jarvis_`` prefix, ``_total`` counters, ``_seconds``
histograms). Per-partition labels are used only where the partition count stays small
(tasks open); everything else is labelled by partition kind.

``jarvis api`` serves from several worker processes, and a scrape reaches one of them:
there, prometheus_client's multiprocess mode is on (``PROMETHEUS_MULTIPROC_DIR``, set by
the command before anything imports prometheus_client). Each worker writes its values
to files in that directory and :func:`page`, whichever worker answers, reads them all:
counters and histograms are summed over the workers (dead ones included), and the
get-work waiting gauge over the live ones. A member is one process and serves its own.
"""

from __future__ import annotations

import contextlib
import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = [
    "ASSIGNMENTS",
    "CONNECTION_STATES",
    "DEAD_LETTERS",
    "FENCED_COMMITS",
    "GET_WORK_SECONDS",
    "GET_WORK_WAITING",
    "HANDOFF_GAP_SECONDS",
    "IDLE_TICKS",
    "MULTIPROCESS_DIR",
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
    "WORK_CLAIMS_OVERDUE",
    "WORK_DEAD",
    "WORK_OVERDUE_SECONDS",
    "WORK_QUEUED_OVERDUE",
    "count_connection_state",
    "forget_partition",
    "forget_process",
    "page",
]

#: The variable that turns prometheus_client's multiprocess mode on (see the docstring).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TICK_SECONDS = Histogram("jarvis_tick_seconds", "Duration of a whole tick", ["kind"], buckets=_FAST)
SOLVE_SECONDS = Histogram(
    "jarvis_solve_seconds", "Duration of the solver within a tick", ["kind"], buckets=_FAST
)
TICKS = Counter("jarvis_ticks_total", "Ticks run", ["kind"])
IDLE_TICKS = Counter(
    "jarvis_idle_ticks_total", "Ticks of idle partitions, recorded in one round trip", ["kind"]
)
TICK_ERRORS = Counter(
    "jarvis_tick_errors_total", "Ticks that raised (partition kept running)", ["kind"]
)
TICK_LATENESS = Histogram(
    "jarvis_tick_lateness_seconds",
    "How late a tick started after it was due (waiting for a free tick worker)",
    ["kind"],
    buckets=(*_FAST, 30.0, 60.0, 120.0, 300.0),
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
# Stuck-work signals of each store this member owns (jarvis.store.work.signals), set at
# its tick; alert rules in deploy/prometheus/ take the worst stores with topk().
WORK_OVERDUE_SECONDS = Gauge(
    "jarvis_work_overdue_seconds",
    "How far past its start-by time the store's most overdue queued item is",
    ["partition"],
)
WORK_QUEUED_OVERDUE = Gauge(
    "jarvis_work_queued_overdue", "Queued items past their start-by time", ["partition"]
)
WORK_CLAIMS_OVERDUE = Gauge(
    "jarvis_work_claims_overdue",
    "Claims held longer than their item's expected duration (-1: too many claims to scan)",
    ["partition"],
)
WORK_DEAD = Gauge("jarvis_work_dead", "Items in the store's dead set", ["partition"])

_PER_PARTITION = (
    TASKS_OPEN,
    WORK_OVERDUE_SECONDS,
    WORK_QUEUED_OVERDUE,
    WORK_CLAIMS_OVERDUE,
    WORK_DEAD,
)


def forget_partition(partition: str) -> None:
    """Drop every per-partition gauge of ``partition`` (it is no longer run here)."""
    for gauge in _PER_PARTITION:
        with contextlib.suppress(KeyError):
            gauge.remove(partition)


GET_WORK_SECONDS = Histogram(
    "jarvis_get_work_seconds", "Latency of get-work", ["path"], buckets=_FAST
)
GET_WORK_WAITING = Gauge(
    "jarvis_get_work_waiting",
    "Get-work requests waiting for work (found none at first)",
    multiprocess_mode="livesum",
)


def count_connection_state(state: str) -> None:
    """Count one ZooKeeper connection event (the member's ``on_connection`` hook)."""
    CONNECTION_STATES.labels(state).inc()


def page() -> bytes:
    """The Prometheus text page: this process's metrics, or every worker's in
    multiprocess mode."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    if not directory:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def forget_process(pid: int) -> None:
    """Drop the live gauges of a worker process that exited (multiprocess mode only)."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
