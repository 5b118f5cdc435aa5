"""A partition's dead letters over a real Redis: listed with their reasons, and a
corrected event re-submitted once, then applied by the owner."""

from __future__ import annotations

import pytest
import redis

from jarvis.errors import BadInputError, NotFoundError
from jarvis.models.work import WorkItem
from jarvis.store.dead_letters import DeadLetters
from jarvis.store.keys import PartitionKeys
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue

STORE = "s1"
T0 = 1_700_000_000.0


def _bad_submission(rds: redis.Redis, namespace: str) -> str:
    """A producer wrote a work_submitted whose item names another store."""
    raw = (
        '{"id": "e-1", "partition": "s1", "at": 1, "type": "work_submitted", "item": '
        '{"id": "w1", "store": "s2", "role": "picker"}}'
    )
    return str(rds.xadd(PartitionKeys(STORE, namespace).events_in, {"event": raw}))


def _corrected() -> dict[str, object]:
    item = WorkItem(id="w1", store=STORE, role="picker").model_dump(mode="json")
    return {"id": "e-1", "partition": STORE, "at": 1, "type": "work_submitted", "item": item}


def test_dead_letters_are_listed_with_their_reasons_and_resubmitted_once(
    rds: redis.Redis, namespace: str
) -> None:
    work = WorkQueue(rds, namespace, clock=lambda: T0)
    stream_id = _bad_submission(rds, namespace)
    assert WorkEvents(work).apply(STORE, epoch=1).dead_lettered == 1
    letters = DeadLetters(rds, namespace, clock=lambda: T0)

    [letter] = letters.list(STORE)
    assert letter.reason == "work item of store 's2' sent to 's1'"
    assert (letter.stream_id, letter.epoch, letter.resubmitted) == (stream_id, "1", None)
    assert '"store": "s2"' in letter.event

    now, done = letters.resubmit(STORE, letter.id, _corrected())
    assert now is True
    again, same = letters.resubmit(STORE, letter.id, _corrected())
    assert (again, same) == (False, done)  # idempotent: nothing written the second time
    # The bad entry (within the horizon) and one re-submitted entry, not two.
    assert rds.xlen(PartitionKeys(STORE, namespace).events_in) == 2
    [listed] = letters.list(STORE)
    assert listed.resubmitted == done

    result = WorkEvents(work).apply(STORE, epoch=1)
    assert (result.applied, result.dead_lettered) == (1, 0)
    assert [q.item.id for q in work.queue(STORE)] == ["w1"]


def test_a_bad_resubmission_writes_nothing(rds: redis.Redis, namespace: str) -> None:
    work = WorkQueue(rds, namespace, clock=lambda: T0)
    _bad_submission(rds, namespace)
    WorkEvents(work).apply(STORE, epoch=1)
    letters = DeadLetters(rds, namespace)
    [letter] = letters.list(STORE)
    before = rds.xlen(PartitionKeys(STORE, namespace).events_in)

    with pytest.raises(BadInputError, match="invalid event"):
        letters.resubmit(STORE, letter.id, {**_corrected(), "type": "work_teleported"})
    with pytest.raises(BadInputError, match="for partition 's2'"):
        letters.resubmit(STORE, letter.id, {**_corrected(), "partition": "s2"})
    with pytest.raises(BadInputError, match="invalid dead-letter id"):
        letters.resubmit(STORE, "latest", _corrected())
    with pytest.raises(NotFoundError, match="no dead letter"):
        letters.resubmit(STORE, "1-0", _corrected())

    assert rds.xlen(PartitionKeys(STORE, namespace).events_in) == before
    assert letters.list(STORE)[0].resubmitted is None


def test_listing_pages_with_after_and_limit(rds: redis.Redis, namespace: str) -> None:
    work = WorkQueue(rds, namespace, clock=lambda: T0)
    keys = PartitionKeys(STORE, namespace)
    for i in range(3):
        rds.xadd(keys.events_in, {"event": f"not json {i}"})
    assert WorkEvents(work).apply(STORE, epoch=1).dead_lettered == 3
    letters = DeadLetters(rds, namespace)

    first = letters.list(STORE, limit=2)
    rest = letters.list(STORE, after=first[-1].id)

    assert [d.event for d in first + rest] == [f"not json {i}" for i in range(3)]
    with pytest.raises(BadInputError):
        letters.list(STORE, limit=0)
