"""A partition's dead letters, readable, and a corrected event re-submitted for one.

An event its owner could not apply goes to ``<ns>:{<partition>}:dead`` (a stream, see
``apply_lib.lua``) with its reason, its raw event, the stream id it had and the
writer's epoch. :meth:`DeadLetters.list` reads them, oldest first, with what became of
each. :meth:`DeadLetters.resubmit` validates a corrected event (it must parse, and be
for this partition) and then, in one atomic script (``dead_letter_resubmit.lua``),
appends it to the partition's incoming stream and marks the dead letter as
re-submitted: a second re-submission of the same dead letter writes nothing and answers
with the first one. The owner applies the re-submitted event at its next tick like any
other (idempotent by event id: a dead-lettered event id was never applied, so the
corrected event may keep it).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis

from jarvis.errors import BadInputError, NotFoundError, StoreError
from jarvis.models.events import Event, validate_event
from jarvis.store.keys import DEFAULT_NAMESPACE, PartitionKeys
from jarvis.store.replication import RedisClient
from jarvis.store.replies import stream_entries, text
from jarvis.store.runner import ScriptRunner
from jarvis.store.specs import DEAD_LETTER_RESUBMIT

__all__ = ["DeadLetter", "DeadLetters", "Resubmission"]

log = logging.getLogger(__name__)

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
#: Marks of re-submitted dead letters kept beyond those the stream still holds.
KEEP_MARKS = 10_000


@dataclass(frozen=True, slots=True)
class Resubmission:
    """What a dead letter was re-submitted as: the new entry of the incoming stream."""

    stream_id: str
    event_id: str
    at: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One entry of the dead-letter stream: ``id`` (its id there), the ``stream_id`` the
    event had in the incoming stream, the ``reason``, the raw ``event`` (as it came),
    the writer's ``epoch``, and its re-submission if it had one."""

    id: str
    partition: str
    stream_id: str
    reason: str
    event: str
    epoch: str
    resubmitted: Resubmission | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_stream_id(value: str) -> str:
    """``value`` if it is a stream entry id (``<ms>-<seq>``), else BadInputError."""
    if not isinstance(value, str) or not _STREAM_ID.match(value):
        raise BadInputError(f"invalid dead-letter id {value!r} (expected <ms>-<seq>)")
    return value


def _resubmission(raw: Any) -> Resubmission | None:
    if raw is None:
        return None
    try:
        record = json.loads(text(raw))
        return Resubmission(str(record["stream_id"]), str(record["event_id"]), float(record["at"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"invalid re-submission record {raw!r}") from exc


class DeadLetters:
    """The dead letters of the partitions in one Redis (and namespace)."""

    def __init__(
        self,
        redis: RedisClient,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        scripts: ScriptRunner | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.namespace = namespace
        self.scripts = scripts or ScriptRunner(redis)
        self.clock = clock

    def list(self, partition: str, limit: int = 100, after: str = "") -> list[DeadLetter]:
        """Up to ``limit`` dead letters of ``partition``, oldest first (after ``after``)."""
        keys = PartitionKeys(partition, self.namespace)
        if limit < 1:
            raise BadInputError(f"limit must be at least 1, got {limit!r}")
        start = f"({check_stream_id(after)}" if after else "-"
        try:
            entries = stream_entries(self.redis.xrange(keys.dead_letter, start, "+", count=limit))
            marks = (
                self.redis.hmget(keys.dead_letter_resubmitted, [i for i, _ in entries])
                if entries
                else []
            )
        except redis.RedisError as exc:
            raise StoreError(
                f"partition {partition!r}: reading dead letters failed: {exc}"
            ) from exc
        return [
            DeadLetter(
                id=entry_id,
                partition=fields.get("partition", partition),
                stream_id=fields.get("stream_id", ""),
                reason=fields.get("reason", ""),
                event=fields.get("event", ""),
                epoch=fields.get("epoch", ""),
                resubmitted=_resubmission(mark),
            )
            for (entry_id, fields), mark in zip(entries, marks, strict=True)
        ]

    def resubmit(self, partition: str, dead_id: str, event: object) -> tuple[bool, Resubmission]:
        """Re-submit ``event`` (a mapping, JSON text or an Event) for dead letter
        ``dead_id`` of ``partition``; (True, it) when done now, (False, the first one)
        when that dead letter was re-submitted already.

        BadInputError for an invalid event or one for another partition (nothing
        written); NotFoundError when the stream has no such dead letter.
        """
        keys = PartitionKeys(partition, self.namespace)
        check_stream_id(dead_id)
        valid: Event = validate_event(event)
        if valid.partition != partition:
            raise BadInputError(
                f"the event is for partition {valid.partition!r}, the dead letter of {partition!r}"
            )
        reply = self.scripts.run(
            DEAD_LETTER_RESUBMIT,
            partition,
            {"dead": keys.dead_letter, "resubmitted": keys.dead_letter_resubmitted,
             "in": keys.events_in},
            {"dead_id": dead_id, "event_id": valid.id, "event_json": valid.model_dump_json(),
             "now": float(self.clock()), "keep": KEEP_MARKS},
        )  # fmt: skip
        status = int(reply[0])
        if status == 0:
            raise NotFoundError(f"partition {partition!r}: no dead letter {dead_id!r}")
        done = _resubmission(reply[1])
        if done is None:  # the script always returns the record with status 1 or 2
            raise StoreError(f"partition {partition!r}: no re-submission record for {dead_id!r}")
        if status == 1:
            log.info(
                "partition %s: dead letter %s re-submitted as %s",
                partition,
                dead_id,
                done.stream_id,
            )
        return status == 1, done
