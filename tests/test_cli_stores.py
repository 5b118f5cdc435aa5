"""`jarvis stores`: the store ranking as a table and as JSON (real Redis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import redis

from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import WorkQueue


def _jarvis(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jarvis", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_stores_shows_the_neediest_first_with_the_parts_of_each_score(
    rds: redis.Redis, redis_url: str, namespace: str
) -> None:
    work = WorkQueue(rds, namespace)
    work.register_associate(Associate(id="ann", home_store="staffed", roles=frozenset({"x"})))
    assert work.get_work("ann") is None
    work.enqueue(WorkItem(id="w1", store="busy", role="x"))
    for store in ("staffed", "busy"):
        work.refresh_score(store, epoch=1)
    flags = ("--redis", redis_url, "--namespace", namespace)

    table = _jarvis("stores", *flags)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "store", "score", "work", "queued", "remotable", "associates", "done/min", "overdue"
    ]  # fmt: skip
    assert lines[1].split()[:6] == ["busy", "1", "1", "1", "0", "0"]
    assert lines[2].split()[:6] == ["staffed", "-2", "0", "0", "0", "1"]

    heavier = _jarvis("stores", "--json", *flags, JARVIS_RANKING_ASSOCIATE_WEIGHT="5")
    assert heavier.returncode == 0, heavier.stderr
    body = json.loads(heavier.stdout)
    assert body["weights"]["associate_weight"] == 5.0
    assert [(s["store"], s["score"]) for s in body["stores"]] == [("busy", 1.0), ("staffed", -5.0)]


def test_stores_refuses_a_bad_weight_with_exit_2(redis_url: str) -> None:
    bad = _jarvis("stores", "--redis", redis_url, JARVIS_RANKING_WORK_WEIGHT="-1")
    assert bad.returncode == 2
    assert "ranking_work_weight" in bad.stderr
