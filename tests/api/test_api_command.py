"""`jarvis api`: the stateless HTTP interface in several processes, started as a real
subprocess over a real Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from jarvis.api.fastjson import claim_json
from jarvis.api.schemas import ClaimOut
from jarvis.cli import main
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import Claim, WorkQueue
from jarvis.testing.servers import free_port

STORE = "s1"
START_TIMEOUT = 60.0


@dataclass
class ApiProcess:
    proc: subprocess.Popen[str]
    url: str

    def workers(self) -> list[int]:
        """The worker processes (children of the supervisor), from /proc."""
        pid = self.proc.pid
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return sorted(int(p) for p in text.split())


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "jarvis", "--log-level", "WARNING", "api", *args]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_")}


def _worker_names(rds: redis.Redis) -> dict[str, set[str]]:
    """The last command of each named jarvis api connection, by worker name."""
    names: dict[str, set[str]] = {}
    for client in rds.client_list():
        name = client.get("name", "")
        if name.startswith("jarvis-api-"):
            names.setdefault(name, set()).add(client["cmd"])
    return names


@pytest.fixture
def api(redis_url: str, namespace: str, rds: redis.Redis) -> Iterator[ApiProcess]:
    listen = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        _command(
            "--workers", "2", "--redis", redis_url, "--namespace", namespace, "--http", listen
        ),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = ApiProcess(proc, f"http://{listen}")
    try:
        # Both workers are up once each has answered /readyz (which pings Redis with
        # the worker's named connection): poll with fresh connections until then.
        deadline = time.monotonic() + START_TIMEOUT
        while len(_worker_names(rds)) < 2:
            assert proc.poll() is None, f"jarvis api exited: {proc.communicate()[1]}"
            assert time.monotonic() < deadline, "both workers of jarvis api never answered"
            try:
                httpx.get(f"{server.url}/readyz", timeout=5)
            except httpx.TransportError:
                time.sleep(0.05)  # not listening yet: the poll's pace, not a wait for it
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()  # its workers then get SIGTERM (PR_SET_PDEATHSIG)
                proc.communicate(timeout=60)


def test_claim_json_is_claimout_json() -> None:
    item = WorkItem(id="w1", store=STORE, role="picker", licence="forklift", priority=3)
    claim = Claim(item, "a1", STORE, 7, 1000.25, 1060.5, 999.0)
    expected = ClaimOut(
        item=item,
        associate="a1",
        store=STORE,
        token=7,
        claimed_at=1000.25,
        expires_at=1060.5,
        start_by=999.0,
    ).model_dump_json()
    assert json.loads(claim_json(claim)) == json.loads(expected)


def test_two_workers_hand_out_every_item_exactly_once(
    api: ApiProcess, rds: redis.Redis, namespace: str
) -> None:
    work = WorkQueue(rds, namespace)
    associates = [f"a{i}" for i in range(6)]
    for name in associates:
        work.register_associate(Associate(id=name, home_store=STORE, roles=frozenset({"picker"})))
    ids = [f"w{i}" for i in range(60)]
    work.enqueue_many(WorkItem(id=i, store=STORE, role="picker", priority=5) for i in ids)

    got: dict[str, list[str]] = {name: [] for name in associates}
    errors: list[str] = []

    def associate(name: str) -> None:
        # A fresh connection per call (no keep-alive): the kernel spreads them over
        # both workers.
        http = httpx.Client(
            base_url=api.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
        )
        with http:
            _claim_all(http, name)

    def _claim_all(http: httpx.Client, name: str) -> None:
        while True:
            answer = http.post(f"/v1/associates/{name}/get-work")
            if answer.status_code == 204:
                return
            if answer.status_code != 200:
                errors.append(f"get-work {answer.status_code} {answer.text}")
                return
            claim = answer.json()
            got[name].append(claim["item"]["id"])
            done = http.post(
                f"/v1/stores/{STORE}/work/{claim['item']['id']}/complete",
                json={"associate": name, "token": claim["token"]},
            )
            if done.status_code != 200:
                errors.append(f"complete {done.status_code} {done.text}")
                return

    threads = [threading.Thread(target=associate, args=(name,)) for name in associates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "an associate never got a 204"
    assert errors == []
    handed_out = [item for items in got.values() for item in items]
    assert sorted(handed_out) == sorted(ids)  # every item, each exactly once
    counts = work.counts(STORE)
    assert (counts["queued"], counts["claimed"]) == (0, 0)
    # Both workers served claims: each one's named connection last ran a script.
    names = _worker_names(rds)
    assert names.keys() == {f"jarvis-api-{pid}" for pid in api.workers()}
    assert all("evalsha" in commands for commands in names.values()), names


def _get_work_count(page: str) -> float:
    """``jarvis_get_work_seconds_count{path="http"}`` in a Prometheus text page."""
    for line in page.splitlines():
        if line.startswith('jarvis_get_work_seconds_count{path="http"}'):
            return float(line.rpartition(" ")[2])
    return 0.0


def test_a_metrics_scrape_counts_the_requests_of_every_worker(
    api: ApiProcess, rds: redis.Redis, namespace: str
) -> None:
    """Both workers serve get-work (fresh connections spread over them); any scrape,
    whichever worker answers it, counts every one of those requests."""
    work = WorkQueue(rds, namespace)
    work.register_associate(Associate(id="a1", home_store=STORE, roles=frozenset({"picker"})))
    requests = 0
    deadline = time.monotonic() + START_TIMEOUT
    while not all("evalsha" in c for c in _worker_names(rds).values()):
        assert time.monotonic() < deadline, (
            f"one worker never served get-work: {_worker_names(rds)}"
        )
        assert httpx.post(f"{api.url}/v1/associates/a1/get-work", timeout=10).status_code == 204
        requests += 1
    assert _worker_names(rds).keys() == {f"jarvis-api-{pid}" for pid in api.workers()}
    counts = {_get_work_count(httpx.get(f"{api.url}/metrics", timeout=10).text) for _ in range(6)}
    assert counts == {float(requests)}, (counts, requests)


def test_sigterm_stops_every_worker_and_exits_0(api: ApiProcess) -> None:
    workers = api.workers()
    assert len(workers) == 2
    assert httpx.get(f"{api.url}/healthz", timeout=10).status_code == 200
    api.proc.send_signal(signal.SIGTERM)
    assert api.proc.wait(timeout=60) == 0, api.proc.communicate()[1]
    for pid in workers:  # reaped by the supervisor: no such process any more
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_that_dies_is_replaced(api: ApiProcess, rds: redis.Redis) -> None:
    first, second = api.workers()
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + START_TIMEOUT
    while True:  # the supervisor notices within a second and forks another
        workers = api.workers()
        if len(workers) == 2 and first not in workers:
            break
        assert api.proc.poll() is None, "the supervisor exited with its worker"
        assert time.monotonic() < deadline, f"no worker replaced {first}: {workers}"
        time.sleep(0.05)  # polling /proc with a deadline
    (replacement,) = set(workers) - {second}
    # The new worker serves: its named connection appears once it has answered.
    while f"jarvis-api-{replacement}" not in _worker_names(rds):
        assert time.monotonic() < deadline, f"worker {replacement} never answered"
        httpx.get(f"{api.url}/readyz", timeout=10)
    api.proc.send_signal(signal.SIGTERM)
    assert api.proc.wait(timeout=60) == 0


def test_stateless_api_serves_no_ownership_views(api: ApiProcess) -> None:
    ready = httpx.get(f"{api.url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["zookeeper"] is False
    missing = httpx.get(f"{api.url}/v1/partitions", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0", "--http", "127.0.0.1:1"], "must be at least 1"),
        (["--workers", "two", "--http", "127.0.0.1:1"], "not an integer"),
        (["--workers", "2"], "--http HOST:PORT"),
        (["--http", "nowhere"], "http"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_flags_exit_2_with_a_message(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [k for k in os.environ if k.startswith("JARVIS_")]:
        monkeypatch.delenv(name)
    try:
        code = main(["api", *args])
    except SystemExit as exc:  # argparse's own usage errors
        code = int(str(exc.code))
    assert code == 2
    assert message in capsys.readouterr().err
