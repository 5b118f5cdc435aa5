"""The HTTP interface over a real Redis and ZooKeeper, served by uvicorn on a free port
(as a member serves it) and called with httpx."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from kazoo.client import KazooClient

from jarvis.api import ApiContext, HttpServer, create_app
from jarvis.api.schemas import ReadyOut
from jarvis.election import ClusterView
from jarvis.store.producer import Producer
from jarvis.store.work.batch import WorkBatch
from jarvis.store.work.queue import WorkQueue
from jarvis.testing.servers import free_port

CLUSTER = "t"


class Clock:
    """The wall clock plus an offset a test moves forward (to let a claim lapse)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def work(rds: redis.Redis, namespace: str, clock: Clock) -> WorkQueue:
    return WorkQueue(rds, namespace, claim_ttl=60.0, clock=clock)


@pytest.fixture
def context(work: WorkQueue, rds: redis.Redis, namespace: str, zk: KazooClient) -> ApiContext:
    def readiness() -> ReadyOut:
        connected = bool(zk.connected)
        return ReadyOut(
            ready=connected, zookeeper=connected, redis=bool(rds.ping()), draining=False
        )

    view = ClusterView(zk, CLUSTER)
    return ApiContext(
        work=work,
        producer=Producer(rds, namespace),
        readiness=readiness,
        partitions=lambda: [r.as_dict() for r in view.partitions()],
        members=lambda: [r.as_dict() for r in view.members()],
        batch=WorkBatch(work),
    )


@pytest.fixture
def client(context: ApiContext) -> Iterator[httpx.Client]:
    listen = f"127.0.0.1:{free_port()}"
    server = HttpServer(create_app(context), listen)
    server.start()
    try:
        with httpx.Client(base_url=f"http://{listen}", timeout=30.0) as c:
            yield c
    finally:
        server.stop()
