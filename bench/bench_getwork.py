"""Get-work latency and throughput, side by side with its floor.

At 1, 16 and 64 concurrent clients, each a separate process (so the figures are the
service's, not one interpreter's), every target is drained of the same number of
items:

- ``zpopmin``: a bare ``ZPOPMIN`` on one sorted set of that size, the floor;
- ``api``: :meth:`jarvis.store.WorkQueue.get_work` through the Python API, one store,
  associates who may take every class (so each call peeks 12 class queues);
- ``http``: the same, over HTTP: ``POST /v1/associates/{id}/get-work`` served by
  ``jarvis api --workers N`` (N = the machine's cores), the stateless HTTP interface in
  N processes sharing the port;
- ``http_member``: the same request served by one member's HTTP interface (the FastAPI
  app under uvicorn in one process, as ``jarvis run --http`` serves it).

Each HTTP client keeps one connection alive and speaks HTTP/1.1 on a raw socket
(:class:`HttpClient`): a prepared request, the answer read by its ``Content-Length``
and its JSON decoded by ``orjson``. A general-purpose client (httpx) spends a few
hundred microseconds of CPU per request, on the same cores as the server; the lean
client keeps the load generator from being what is measured.

Redis runs at a higher CPU priority than the clients (niceness -10, when the system
allows; ``JARVIS_BENCH_REDIS_NICE`` to change), as if it had a machine of its own: on a
small box, 64 busy client processes otherwise starve the single-threaded server of CPU,
and the figure would measure the scheduler rather than the service. Both targets get
the same treatment, and so does the HTTP target's server process (it is the service).

Each target is measured three times per concurrency (once with ``--quick``), the
targets alternating; a row has the median p50/p99 latency and throughput of its
rounds, every round's p99, the duplicates of all rounds (items handed out twice: must
be 0) and, for non-floor targets, ``p99_vs_floor`` (median p99 over the floor's median
p99; target: at most 3). The HTTP rows also have ``ops_vs_api`` and ``p99_vs_api``: their
throughput and p99 over the Python API's in the same run (issue 14's goal at 64
clients: at least 0.5 and at most 3).

    python -m bench bench_getwork [--quick]
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import orjson
import redis

from bench.clients import alternating, drop_namespace, favour, favoured_redis, run_clients
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import WorkQueue
from jarvis.testing.servers import free_port

CONCURRENCY = (1, 16, 64)
ROLES = ("picker", "stocker", "cashier")
STORE = "bench-store"
#: A client's getter: returns the id of the item it got, or None when there is none.
Getter = Callable[[], str | None]


class Target(Protocol):
    name: str

    def prepare(self, url: str, namespace: str, n_items: int, clients: int) -> None:
        """Fill Redis with ``n_items`` for ``clients`` clients (runs in the parent)."""

    def getter(self, url: str, namespace: str, index: int) -> Getter:
        """The get-work call of client ``index`` (runs in the client's process)."""


class FloorTarget:
    """A bare ZPOPMIN on a sorted set of the same size: what Redis alone costs."""

    name = "zpopmin"

    def prepare(self, url: str, namespace: str, n_items: int, clients: int) -> None:
        client = redis.Redis.from_url(url)
        key = f"{namespace}:floor"
        for start in range(0, n_items, 5000):
            client.zadd(key, {f"w{i}": float(i) for i in range(start, min(n_items, start + 5000))})
        client.close()

    def getter(self, url: str, namespace: str, index: int) -> Getter:
        client = redis.Redis.from_url(url, decode_responses=True)
        client.ping()  # connect now: connecting is not part of get-work
        key = f"{namespace}:floor"

        def get() -> str | None:
            popped = client.zpopmin(key)
            return str(popped[0][0]) if popped else None

        return get


class ApiTarget:
    """WorkQueue.get_work through the Python API."""

    name = "api"

    def prepare(self, url: str, namespace: str, n_items: int, clients: int) -> None:
        client = redis.Redis.from_url(url)
        wq = WorkQueue(client, namespace)
        for i in range(clients):
            wq.register_associate(
                Associate(
                    id=f"a{i}",
                    home_store=STORE,
                    roles=frozenset(ROLES),
                    licences=frozenset({"forklift"}),
                )
            )
        now = time.time()
        items = [
            WorkItem(
                id=f"w{i}",
                store=STORE,
                role=ROLES[i % len(ROLES)],
                licence="forklift" if i % 5 == 0 else None,
                remotable=i % 3 == 0,
                due_at=now + (i * 7919) % 7200,
                priority=(i * 31) % 101,
            )
            for i in range(n_items)
        ]
        for start in range(0, n_items, 1000):
            wq.enqueue_many(items[start : start + 1000])
        client.close()

    def getter(self, url: str, namespace: str, index: int) -> Getter:
        wq = WorkQueue(redis.Redis.from_url(url), namespace, claim_ttl=600.0)
        wq.redis.ping()  # connect now: connecting is not part of get-work
        associate = f"a{index}"

        def get() -> str | None:
            claim = wq.get_work(associate)
            return claim.item.id if claim is not None else None

        return get


#: The HTTP server process of each HttpTarget (by port), in the parent only.
_SERVERS: dict[int, subprocess.Popen[bytes]] = {}


class HttpClient:
    """A lean HTTP/1.1 keep-alive client on a raw socket, so that the load generator is
    not what is measured: one prepared request, and a response read by its
    ``Content-Length`` (the server always sends one). httpx costs a few hundred
    microseconds of client CPU per request, which on a small machine would take CPU
    from the server being measured."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def post(self, path: str) -> tuple[int, bytes]:
        """(status, body) of ``POST path`` with an empty body."""
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-length: 0\r\n\r\n".encode()
        )
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the HTTP server closed the connection")
        self.buffer += chunk


class HttpTarget:
    """get-work over HTTP, from a server in processes of its own: ``jarvis api
    --workers N`` (name ``http``), or one member's HTTP interface in one process, as
    ``jarvis run --http`` serves it (name ``http_member``)."""

    def __init__(self, name: str, workers: int | None) -> None:
        self.name = name
        self.workers = workers
        self.port = 0

    def command(self, url: str, namespace: str) -> list[str]:
        listen = f"127.0.0.1:{self.port}"
        if self.workers is None:
            return [sys.executable, "-m", "bench.bench_getwork", url, namespace, str(self.port)]
        return [
            *(sys.executable, "-m", "jarvis", "--log-level", "WARNING", "api"),
            *("--workers", str(self.workers), "--redis", url, "--namespace", namespace),
            *("--http", listen, "--claim-ttl", "600"),
        ]

    def prepare(self, url: str, namespace: str, n_items: int, clients: int) -> None:
        ApiTarget().prepare(url, namespace, n_items, clients)
        self.close()
        self.port = free_port()
        proc = subprocess.Popen(self.command(url, namespace), stdin=subprocess.DEVNULL)
        _SERVERS[self.port] = proc
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark's HTTP server ({self.name}) did not start")
            time.sleep(0.05)
        for pid in [proc.pid, *_children(proc.pid)]:
            favour(pid)

    def getter(self, url: str, namespace: str, index: int) -> Getter:
        http = HttpClient(self.port)
        path = f"/v1/associates/a{index}/get-work"

        def get() -> str | None:
            status, body = http.post(path)
            if status == 204:
                return None
            if status != 200:
                raise RuntimeError(f"get-work answered {status}: {body[:200]!r}")
            return str(orjson.loads(body)["item"]["id"])

        return get

    def close(self) -> None:
        proc = _SERVERS.pop(self.port, None)
        if proc is not None:
            proc.terminate()
            proc.wait(30)


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (jarvis api's workers), from /proc."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _serve(url: str, namespace: str, port: int) -> None:
    """The ``http_member`` server: the member's app over ``namespace``, one process, until
    terminated."""
    import uvicorn

    from jarvis.api import ApiContext, create_app
    from jarvis.api.schemas import ReadyOut
    from jarvis.api.server import uvicorn_config
    from jarvis.store.producer import Producer
    from jarvis.store.work.batch import WorkBatch

    client = redis.Redis.from_url(url, decode_responses=True)
    work = WorkQueue(client, namespace, claim_ttl=600.0)
    context = ApiContext(
        work=work,
        producer=Producer(client, namespace),
        readiness=lambda: ReadyOut(ready=True, zookeeper=True, redis=True, draining=False),
        partitions=list,
        members=list,
        batch=WorkBatch(work),
    )
    uvicorn.Server(uvicorn_config(create_app(context), "127.0.0.1", port)).run()


WORKERS = os.cpu_count() or 1
TARGETS: tuple[Target, ...] = (
    FloorTarget(),
    ApiTarget(),
    HttpTarget("http", WORKERS),
    HttpTarget("http_member", None),
)


def _client(
    target: Target, url: str, namespace: str, index: int, barrier: Barrier, out: Any
) -> None:
    get = target.getter(url, namespace, index)
    latencies: list[float] = []
    got: list[str] = []
    barrier.wait()
    started = time.monotonic()
    while True:
        t = time.perf_counter()
        item = get()
        latencies.append(time.perf_counter() - t)
        if item is None:
            break
        got.append(item)
    out.put((latencies, got, started, time.monotonic()))


def _measure(target: Target, url: str, n_items: int, clients: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    target.prepare(url, namespace, n_items, clients)
    results = run_clients(_client, target, url, namespace, clients)
    latencies = np.concatenate([np.asarray(r[0]) for r in results]) * 1000.0
    got = [item for r in results for item in r[1]]
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    drop_namespace(url, namespace)
    return {
        "benchmark": "getwork",
        "target": target.name,
        "clients": clients,
        "n": n_items,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "ops_per_s": len(got) / elapsed,
        "handed_out": len(got),
        "duplicates": len(got) - len(set(got)),
    }


def _combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for a target and concurrency: the median of each figure over the rounds,
    every round's p99, and the duplicates of all rounds together."""
    row = dict(rounds[0])
    for key in ("p50_ms", "p99_ms", "ops_per_s"):
        row[key] = float(np.median([r[key] for r in rounds]))
    row["handed_out"] = min(r["handed_out"] for r in rounds)
    row["duplicates"] = sum(r["duplicates"] for r in rounds)
    row["rounds"] = len(rounds)
    row["p99_ms_each"] = [round(r["p99_ms"], 3) for r in rounds]
    return row


def run(
    quick: bool = False, concurrency: tuple[int, ...] = CONCURRENCY, rounds: int | None = None
) -> list[dict[str, Any]]:
    """Measure every target at every concurrency, ``rounds`` times each, alternating
    targets, so that a burst of noise on a shared machine hits both alike."""
    n_items = 2_000 if quick else 10_000
    rounds = rounds or (1 if quick else 3)
    mp.set_forkserver_preload([__name__])
    rows: list[dict[str, Any]] = []
    with favoured_redis() as (server, favoured):
        try:
            for clients in concurrency:
                measured = alternating(
                    TARGETS,
                    partial(_measure, url=server.url, n_items=n_items, clients=clients),
                    rounds,
                )
                floor = _combine(measured[TARGETS[0].name])
                rows.append(floor)
                api: dict[str, Any] = {}
                for target in TARGETS[1:]:
                    row = _combine(measured[target.name])
                    row["p99_vs_floor"] = row["p99_ms"] / floor["p99_ms"]
                    if target.name == ApiTarget.name:
                        api = row
                    else:  # HTTP against the Python API, in the same run
                        row["ops_vs_api"] = row["ops_per_s"] / api["ops_per_s"]
                        row["p99_vs_api"] = row["p99_ms"] / api["p99_ms"]
                    rows.append(row)
            for row in rows:
                row["redis_nice"] = favoured
        finally:
            for target in TARGETS:
                if isinstance(target, HttpTarget):
                    target.close()
    return rows


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
