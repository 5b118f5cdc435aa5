"""`jarvis dead-letters`: an operator reads a partition's dead letters and re-submits a
corrected event (real Redis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import redis

from jarvis.models.work import WorkItem
from jarvis.store.keys import PartitionKeys
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue

STORE = "s1"


def _jarvis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jarvis", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_dead_letters_listed_and_a_corrected_event_resubmitted(
    rds: redis.Redis, redis_url: str, namespace: str
) -> None:
    work = WorkQueue(rds, namespace)
    rds.xadd(PartitionKeys(STORE, namespace).events_in, {"event": '{"id": "e-1"}'})
    assert WorkEvents(work).apply(STORE, epoch=1).dead_lettered == 1
    flags = ("--redis", redis_url, "--namespace", namespace)

    table = _jarvis("dead-letters", STORE, *flags)
    assert table.returncode == 0, table.stderr
    assert "reason: invalid event: " in table.stdout
    assert 'event:  {"id": "e-1"}' in table.stdout
    assert "1 dead letter(s) in partition s1" in table.stdout
    [letter] = [
        json.loads(line)
        for line in _jarvis("dead-letters", STORE, "--json", *flags).stdout.splitlines()
    ]
    assert letter["resubmitted"] is None

    item = WorkItem(id="w1", store=STORE, role="picker").model_dump(mode="json")
    event = json.dumps(
        {"id": "e-1", "partition": STORE, "at": 1, "type": "work_submitted", "item": item}
    )
    done = _jarvis("dead-letters", STORE, "--resubmit", letter["id"], "--event", event, *flags)
    assert done.returncode == 0, done.stderr
    assert f"{letter['id']}: re-submitted as " in done.stdout
    again = _jarvis("dead-letters", STORE, "--resubmit", letter["id"], "--event", event, *flags)
    assert again.returncode == 0, again.stderr
    assert "already re-submitted" in again.stdout
    assert WorkEvents(work).apply(STORE, epoch=1).applied == 1

    bad_json = _jarvis("dead-letters", STORE, "--resubmit", letter["id"], "--event", "{", *flags)
    assert bad_json.returncode == 2
    assert "--event is not JSON" in bad_json.stderr
    invalid = _jarvis(
        "dead-letters", STORE, "--resubmit", letter["id"], "--event", '{"id": "e-2"}', *flags
    )
    assert invalid.returncode == 2
    assert "invalid event" in invalid.stderr
    unknown = _jarvis("dead-letters", STORE, "--resubmit", "1-0", "--event", event, *flags)
    assert unknown.returncode == 2
    assert "no dead letter" in unknown.stderr
    alone = _jarvis("dead-letters", STORE, "--resubmit", letter["id"], *flags)
    assert alone.returncode == 2
