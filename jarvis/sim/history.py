"""A simulated day's history in the city's stream format, for the history checker.

The simulator writes what a city owner would write to its out stream (``assignment``,
``unassigned`` with a reason, ``reassignment`` with ``from``, ``delivered``,
``cancelled`` and ``tick`` markers, all at one epoch) and what producers would have
written to its incoming stream (``courier_online`` and ``order_created``), so
:func:`jarvis.testing.checker.check_history` can judge a simulated day as it judges a
real one: no double assignment, no bad transition, no courier over capacity.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from jarvis.sim.day import Day

__all__ = ["Entry", "History", "incoming"]

#: One stream entry: (id, fields).
Entry = tuple[str, Mapping[str, str]]


class History:
    """The out-stream entries of one run, in order."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def _add(self, kind: str, **fields: str) -> None:
        entry_id = f"{len(self.entries) + 1}-0"
        self.entries.append((entry_id, {"type": kind, "epoch": "1", **fields}))

    def assigned(self, task: str, worker: str) -> None:
        self._add("assignment", task=task, worker=worker)

    def unassigned(self, task: str, worker: str, reason: str) -> None:
        self._add("unassigned", task=task, worker=worker, reason=reason)

    def reassigned(self, task: str, worker: str, source: str) -> None:
        self._add("reassignment", task=task, worker=worker, **{"from": source})

    def delivered(self, task: str, worker: str) -> None:
        self._add("delivered", task=task, worker=worker)

    def cancelled(self, task: str) -> None:
        self._add("cancelled", task=task)

    def tick(self, at: float) -> None:
        self._add("tick", at=repr(at))


def incoming(day: Day, partition: str = "sim") -> list[Entry]:
    """The incoming-stream entries a day stands for: couriers online, orders created."""
    events = [
        {"type": "courier_online", "courier": s.courier.model_dump(mode="json"), "at": s.start}
        for s in day.shifts
    ] + [
        {"type": "order_created", "order": o.model_dump(mode="json"), "at": o.created_at}
        for o in day.orders
    ]
    return [
        (f"{i + 1}-0", {"event": json.dumps({"id": f"e{i}", "partition": partition, **e})})
        for i, e in enumerate(events)
    ]
