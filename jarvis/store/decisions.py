"""Decisions: the entries of a partition's out stream, read back as typed records.

Each committed tick appends one ``assignment`` entry per assignment (task -> worker),
then one ``tick`` marker entry (with the number of assignments), all tagged with
``partition``, ``epoch``, ``tick`` and ``at`` (unix seconds). A tick with no assignment
still has its marker, so a reader can tell a quiet tick from a missed one.

Applying events adds the rest of an assignment's history: ``delivered``, ``unassigned``
(with ``reason`` ``offline`` or ``cancelled``: the order went back to the pool or away)
and ``cancelled`` (an open order withdrawn); their ``tick`` is 0.

In acceptance mode a commit writes ``offer`` entries (with ``expires_at``) instead of
``assignment`` ones; the courier's acceptance adds ``accepted``, an expiry ``unassigned``
with reason ``expired``. A ``reassignment`` (task, worker, ``from``) moves an assigned
order to another courier; in acceptance mode it is an offer to the new courier (with
``expires_at``), accepted, declined or expired like any offer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import redis

from jarvis.errors import StoreError
from jarvis.store.keys import DEFAULT_NAMESPACE, PartitionKeys
from jarvis.store.replication import RedisClient
from jarvis.store.replies import stream_entries

__all__ = ["DecisionRecord", "read_decisions"]


DecisionType = Literal[
    "assignment",
    "offer",
    "reassignment",
    "tick",
    "delivered",
    "unassigned",
    "cancelled",
    "accepted",
]
_HISTORY: dict[str, DecisionType] = {
    "delivered": "delivered",
    "unassigned": "unassigned",
    "cancelled": "cancelled",
    "accepted": "accepted",
}


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One out-stream entry: an assignment, or the marker that closes a tick."""

    id: str
    type: DecisionType
    partition: str
    epoch: int
    tick: int
    at: float
    task: str | None = None
    worker: str | None = None
    assignments: int | None = None
    reason: str | None = None
    #: A reassignment's previous courier.
    from_worker: str | None = None
    #: When an offer expires unless accepted (unix seconds).
    expires_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The decision as a JSON object (``None`` fields left out)."""
        return {
            name: getattr(self, name) for name in self.__slots__ if getattr(self, name) is not None
        }

    @classmethod
    def from_entry(cls, entry_id: str, fields: Mapping[str, str]) -> DecisionRecord:
        """Build from a stream entry; StoreError if the entry is not a decision."""
        try:
            kind = fields["type"]
            common: dict[str, Any] = {
                "id": entry_id,
                "partition": fields["partition"],
                "epoch": int(fields["epoch"]),
                "tick": int(fields["tick"]),
                "at": float(fields["at"]),
            }
            if kind == "assignment":
                return cls(
                    type="assignment", task=fields["task"], worker=fields["worker"], **common
                )
            if kind == "offer":
                return cls(
                    type="offer",
                    task=fields["task"],
                    worker=fields["worker"],
                    expires_at=float(fields["expires_at"]),
                    **common,
                )
            if kind == "reassignment":
                return cls(
                    type="reassignment",
                    task=fields["task"],
                    worker=fields["worker"],
                    from_worker=fields["from"],
                    expires_at=float(fields["expires_at"]) if "expires_at" in fields else None,
                    **common,
                )
            if kind == "tick":
                return cls(type="tick", assignments=int(fields["assignments"]), **common)
            if kind in _HISTORY:
                return cls(
                    type=_HISTORY[kind],
                    task=fields["task"],
                    worker=fields.get("worker") or None,
                    reason=fields.get("reason") or None,
                    **common,
                )
        except (KeyError, ValueError) as exc:
            raise StoreError(f"out-stream entry {entry_id} is malformed: {exc!r}") from exc
        raise StoreError(f"out-stream entry {entry_id} has unknown type {kind!r}")


def read_decisions(
    client: RedisClient,
    partition: str,
    after: str = "-",
    count: int = 1000,
    namespace: str = DEFAULT_NAMESPACE,
) -> list[DecisionRecord]:
    """Up to ``count`` decisions of ``partition`` after the entry id ``after`` (exclusive)."""
    keys = PartitionKeys(partition, namespace)
    start = after if after == "-" else f"({after}"
    try:
        entries = client.xrange(keys.decisions_out, min=start, max="+", count=count)
    except redis.RedisError as exc:
        raise StoreError(f"partition {partition!r}: reading decisions failed: {exc}") from exc
    return [DecisionRecord.from_entry(eid, fields) for eid, fields in stream_entries(entries)]
