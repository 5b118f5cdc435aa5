"""Reads what a cluster did and reports what must never happen.

The out stream of a city partition is its complete, ordered history: every committed
assignment, every tick marker, and every lifecycle change of an assignment (delivered,
or ended because the courier went offline or the order was cancelled). Replaying it:

- **double assignment**: a task assigned (or offered) while an earlier assignment of it
  is active; the only way an active task may go to another worker is a
  ``reassignment`` entry that names its current worker as ``from``;
- **bad transition**: a ``reassignment`` of a task that is not active with its ``from``
  worker or is an offer not yet accepted, or an ``accepted`` of a task not offered to
  that worker (a ``reassignment`` with ``expires_at``, acceptance mode, offers the task
  to its new worker);
- **over capacity**: a courier holding more active assignments than its capacity;
- **stale commit**: an entry whose epoch is lower than an earlier entry's (a fenced-out
  owner's write that was accepted);
- **unresolved**: an accepted ``order_created`` never assigned nor cancelled (accepted =
  in the in stream and not dead-lettered);
- **largest gap**: the longest time between two consecutive tick markers.

Any of the first five above zero fails a run (:attr:`Report.ok`). The checker reads
Redis only; it is independent of the code that wrote the history.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from jarvis.store.keys import DEFAULT_NAMESPACE, PartitionKeys
from jarvis.store.replication import RedisClient
from jarvis.store.replies import read_stream, text

__all__ = ["PartitionReport", "Report", "check_cluster", "check_history"]

Entry = tuple[str, Mapping[str, str]]


@dataclass
class PartitionReport:
    partition: str
    assignments: int = 0
    ticks: int = 0
    double_assignments: list[str] = field(default_factory=list)
    bad_transitions: list[str] = field(default_factory=list)
    reassignments: int = 0
    over_capacity: list[str] = field(default_factory=list)
    stale_commits: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    largest_gap: float = 0.0
    gaps: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)


@dataclass
class Report:
    partitions: dict[str, PartitionReport]

    def _total(self, name: str) -> int:
        return sum(len(getattr(p, name)) for p in self.partitions.values())

    @property
    def double_assignments(self) -> int:
        return self._total("double_assignments")

    @property
    def bad_transitions(self) -> int:
        return self._total("bad_transitions")

    @property
    def over_capacity(self) -> int:
        return self._total("over_capacity")

    @property
    def stale_commits(self) -> int:
        return self._total("stale_commits")

    @property
    def unresolved(self) -> int:
        return self._total("unresolved")

    @property
    def assignments(self) -> int:
        return sum(p.assignments for p in self.partitions.values())

    @property
    def largest_gap(self) -> float:
        return max((p.largest_gap for p in self.partitions.values()), default=0.0)

    @property
    def safe(self) -> bool:
        """No double assignment or bad transition, no courier over capacity, no stale
        commit."""
        return not (
            self.double_assignments
            or self.bad_transitions
            or self.over_capacity
            or self.stale_commits
        )

    @property
    def ok(self) -> bool:
        """Safe, and every accepted order resolved."""
        return self.safe and not self.unresolved

    def summary(self) -> dict[str, float | int | bool]:
        return {
            "partitions": len(self.partitions),
            "assignments": self.assignments,
            "double_assignments": self.double_assignments,
            "bad_transitions": self.bad_transitions,
            "over_capacity": self.over_capacity,
            "stale_commits": self.stale_commits,
            "unresolved": self.unresolved,
            "largest_gap_s": round(self.largest_gap, 3),
            "ok": self.ok,
        }


def check_history(
    partition: str,
    out: Sequence[Entry],
    events: Sequence[Entry] = (),
    dead_letter_ids: Iterable[str] = (),
) -> PartitionReport:
    """Replay one partition's out stream (and in stream, for acceptance and capacity).

    ``dead_letter_ids`` are the in-stream ids of dead-lettered events (not accepted).
    """
    report = PartitionReport(partition)
    capacity: dict[str, int] = {}
    created: list[str] = []
    dead = set(dead_letter_ids)
    for stream_id, fields in events:
        if stream_id in dead:
            continue
        try:
            event = json.loads(fields.get("event", "{}"))
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        if event.get("type") == "courier_online":
            courier = event.get("courier", {})
            cid, cap = courier.get("id"), courier.get("capacity", 1)
            capacity[cid] = max(capacity.get(cid, 0), int(cap))
        elif event.get("type") == "order_created":
            created.append(event.get("order", {}).get("id"))

    active: dict[str, str] = {}
    offered: set[str] = set()  # active tasks that are offers not yet accepted
    load: dict[str, int] = defaultdict(int)
    resolved: set[str] = set()
    highest = -1
    last_tick_at: float | None = None
    for entry_id, fields in out:
        epoch = int(fields.get("epoch", "-1"))
        if epoch < highest:
            report.stale_commits.append(f"{entry_id}: epoch {epoch} after epoch {highest}")
        if epoch > highest:
            highest = epoch
            report.epochs.append(epoch)
        kind = fields.get("type")
        task, worker = fields.get("task", ""), fields.get("worker", "")
        if kind in ("assignment", "offer", "reassignment"):
            report.assignments += kind != "reassignment"
            resolved.add(task)
            if kind == "reassignment":
                report.reassignments += 1
                source = fields.get("from", "")
                if active.get(task) != source or task in offered:
                    report.bad_transitions.append(
                        f"{entry_id}: task {task} reassigned from {source} but held by "
                        f"{active.get(task)}{' (an offer)' if task in offered else ''}"
                    )
                elif source:
                    load[source] -= 1
            elif task in active:
                report.double_assignments.append(
                    f"{entry_id}: task {task} to {worker} while assigned to {active[task]}"
                )
            active[task] = worker
            if kind == "offer" or (kind == "reassignment" and "expires_at" in fields):
                offered.add(task)
            load[worker] += 1
            cap = capacity.get(worker)
            if cap is not None and load[worker] > cap:
                report.over_capacity.append(
                    f"{entry_id}: courier {worker} holds {load[worker]} > capacity {cap}"
                )
        elif kind == "accepted":
            if task not in offered or active.get(task) != worker:
                report.bad_transitions.append(
                    f"{entry_id}: {worker} accepted task {task}, not offered to it"
                )
            offered.discard(task)
        elif kind in ("delivered", "unassigned"):
            if active.get(task) == worker:
                del active[task]
                offered.discard(task)
                load[worker] -= 1
            if kind == "unassigned" and fields.get("reason") == "cancelled":
                resolved.add(task)
        elif kind == "cancelled":
            resolved.add(task)
        elif kind == "tick":
            report.ticks += 1
            at = float(fields.get("at", "0"))
            if last_tick_at is not None:
                gap = at - last_tick_at
                report.gaps.append(gap)
                report.largest_gap = max(report.largest_gap, gap)
            last_tick_at = at
    report.unresolved = [task for task in created if task not in resolved]
    return report


def _stream(client: RedisClient, key: str) -> list[Entry]:
    entries: list[Entry] = []
    after = "-"
    while True:
        batch = read_stream(client, key, after, 10000)
        if not batch:
            return entries
        for entry_id, fields in batch:
            entries.append((entry_id, {text(k): text(v) for k, v in fields.items()}))
        after = batch[-1][0]


def check_cluster(
    client: RedisClient, partitions: Iterable[str], namespace: str = DEFAULT_NAMESPACE
) -> Report:
    """Check every partition's history in Redis (client with ``decode_responses=True``)."""
    reports = {}
    for partition in partitions:
        keys = PartitionKeys(partition, namespace)
        dead_ids = [fields.get("stream_id", "") for _, fields in _stream(client, keys.dead_letter)]
        reports[partition] = check_history(
            partition,
            _stream(client, keys.decisions_out),
            _stream(client, keys.events_in),
            dead_ids,
        )
    return Report(reports)
