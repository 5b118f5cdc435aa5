"""`jarvis submit` and `jarvis decisions`: the producer's and the reader's command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.store.builders import courier, event, order


def _jarvis(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jarvis", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_submit_validates_every_line_and_writes_all(
    rds: redis.Redis, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    lines = [
        event("rome", "courier_online", courier=courier("c1")).model_dump_json(),
        event("rome", "order_created", order=order("o1")).model_dump_json(),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n\n")
    done = _jarvis("submit", str(path), "--redis", redis_url, "--namespace", namespace)
    assert done.returncode == 0, done.stderr
    assert "submitted 2 event(s)" in done.stdout
    assert rds.xlen(CityStore(rds, "rome", namespace).keys.events_in) == 2


def test_submit_with_one_bad_line_writes_nothing_and_exits_2(
    rds: redis.Redis, redis_url: str, namespace: str
) -> None:
    good = event("rome", "order_created", order=order("o1")).model_dump_json()
    bad = json.dumps({"id": "x", "partition": "rome", "at": 1, "type": "order_created"})
    done = _jarvis(
        "submit", "--redis", redis_url, "--namespace", namespace, stdin=f"{good}\n{bad}\nnot json\n"
    )
    assert done.returncode == 2
    assert "line 2" in done.stderr
    assert "line 3" in done.stderr
    assert "nothing submitted" in done.stderr
    assert rds.xlen(CityStore(rds, "rome", namespace).keys.events_in) == 0


def test_decisions_json_prints_each_decision_with_its_epoch_and_tick(
    rds: redis.Redis, redis_url: str, namespace: str
) -> None:
    store = CityStore(rds, "rome", namespace)
    Producer(rds, namespace).submit_many(
        [
            event("rome", "courier_online", courier=courier("c1")),
            event("rome", "order_created", order=order("o1")),
        ]
    )
    store.apply_events(7)
    assert store.commit(7, 3, [("o1", "c1")], 1000.0).accepted
    done = _jarvis("decisions", "rome", "--json", "--redis", redis_url, "--namespace", namespace)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assignment = next(r for r in rows if r["type"] == "assignment")
    assert {k: assignment[k] for k in ("partition", "epoch", "tick", "task", "worker")} == {
        "partition": "rome", "epoch": 7, "tick": 3, "task": "o1", "worker": "c1"
    }  # fmt: skip
    assert rows[-1]["type"] == "tick"


def test_decisions_of_a_bad_partition_id_exits_2(redis_url: str) -> None:
    done = _jarvis("decisions", "no spaces!", "--redis", redis_url)
    assert done.returncode == 2
    assert "invalid partition id" in done.stderr
