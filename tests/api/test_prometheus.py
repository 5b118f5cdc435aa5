"""Stuck-work signals reach /metrics, and promtool accepts both the alert rules in
deploy/prometheus/ and the metrics text a member serves (real Redis, real promtool)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from jarvis import metrics
from jarvis.actors.store import StoreEngine
from jarvis.config import Settings
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import WorkQueue

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "jarvis-alerts.yml"
STORE = "s1"


def _promtool(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool is not None, "promtool is missing: `make setup` installs it (package prometheus)"
    return subprocess.run(
        [tool, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_alert_rules_pass_promtool() -> None:
    checked = _promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout


@pytest.fixture
def forget_s1() -> Iterator[None]:
    yield
    metrics.forget_partition(STORE)


def _sample(text: str, name: str) -> float:
    match = re.search(rf'^{name}{{partition="{STORE}"}} (\S+)$', text, re.M)
    assert match is not None, f"{name} for {STORE} is not in /metrics"
    return float(match.group(1))


def test_a_store_tick_publishes_its_stuck_work_and_the_metrics_pass_promtool(
    client: httpx.Client, rds: redis.Redis, namespace: str, forget_s1: None
) -> None:
    now = time.time()
    ann = Associate(id="ann", home_store=STORE, roles=frozenset({"picker"}))
    # A claim made ten minutes ago (by the clock of a member) of a one-minute item.
    earlier = WorkQueue(rds, namespace, clock=lambda: now - 600, claim_ttl=3600)
    earlier.register_associate(ann)
    earlier.enqueue(WorkItem(id="slow", store=STORE, role="picker", duration_s=60))
    assert earlier.get_work("ann") is not None
    # A poison item in the dead set, and two items queued an hour ago, due 50 minutes
    # ago: their start-by (due minus duration) is 51 minutes past.
    work = WorkQueue(rds, namespace)
    work.enqueue(WorkItem(id="poison", store=STORE, role="cashier", max_attempts=1))
    work.register_associate(Associate(id="cy", home_store=STORE, roles=frozenset({"cashier"})))
    claim = work.get_work("cy")
    assert claim is not None
    assert work.release(STORE, "poison", "cy", claim.token) is False
    late = [
        WorkItem(id=f"late{i}", store=STORE, role="stocker", due_at=now - 3000, duration_s=60)
        for i in range(2)
    ]
    WorkQueue(rds, namespace, clock=lambda: now - 3600).enqueue_many(late)

    engine = StoreEngine.build(rds, STORE, Settings(namespace=namespace), None)
    report = engine.tick(epoch=1, tick=1, now=time.time(), may_commit=lambda: True)
    assert report.committed

    text = client.get("/metrics").text
    assert _sample(text, "jarvis_work_dead") == 1
    assert _sample(text, "jarvis_work_queued_overdue") == 2
    assert _sample(text, "jarvis_work_claims_overdue") == 1
    assert 3060 <= _sample(text, "jarvis_work_overdue_seconds") < 3060 + 600
    checked = _promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
