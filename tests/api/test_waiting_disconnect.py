"""A long-poll get-work whose client goes away keeps nothing: it leaves its store's
waiting set, and a claim made for it meanwhile goes straight back to its queue (not
after the claim's lease)."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import redis

from jarvis.actors.batch import assign_waiting
from jarvis.api import waiting
from jarvis.models.work import Associate, WorkItem
from jarvis.store.keys import PartitionKeys
from jarvis.store.work.batch import WorkBatch
from jarvis.store.work.queue import WorkQueue

STORE = "s1"
PICKER = Associate(id="p", home_store=STORE, roles=frozenset({"picker"}))


def _waiting_key(namespace: str) -> str:
    return PartitionKeys(STORE, namespace).key("work:waiting")


async def _until_waiting(rds: redis.Redis, namespace: str) -> None:
    deadline = time.monotonic() + 10
    while not rds.zcard(_waiting_key(namespace)):
        assert time.monotonic() < deadline, "the get-work request never joined the waiting set"
        await asyncio.sleep(0.01)


def test_a_claim_made_for_a_client_that_left_goes_back_to_its_queue_at_once(
    rds: redis.Redis, namespace: str
) -> None:
    work = WorkQueue(rds, namespace, claim_ttl=600.0)  # a lapse would take ten minutes
    batch = WorkBatch(work)
    work.register_associate(PICKER)
    work.enqueue(WorkItem(id="w1", store=STORE, role="picker"))
    batch.set_mode(STORE, 1, True, ttl_s=60)
    gone = asyncio.Event()

    async def disconnected() -> bool:
        return gone.is_set()

    async def scenario() -> None:
        request = asyncio.create_task(
            waiting.get_work(work, batch, "p", 30.0, disconnected=disconnected)
        )
        await _until_waiting(rds, namespace)
        # No await between these two lines: the request cannot run in between. The
        # client goes away, then the owner's tick claims the item for its request.
        gone.set()
        claims = assign_waiting(batch, STORE, 1, time.time())
        assert [c.item.id for c in claims] == ["w1"]
        assert await asyncio.wait_for(request, timeout=10) is None

    asyncio.run(scenario())

    counts = work.counts(STORE)
    assert (counts["queued"], counts["claimed"], counts["released"]) == (1, 0, 1)
    assert rds.zcard(_waiting_key(namespace)) == 0
    assert work.get_work("p") is not None  # and anyone may take it now


def test_a_disconnected_long_poll_over_http_keeps_no_claim(
    client: httpx.Client, work: WorkQueue, rds: redis.Redis, namespace: str
) -> None:
    batch = WorkBatch(work)
    work.register_associate(PICKER)
    work.enqueue(WorkItem(id="w1", store=STORE, role="picker"))
    batch.set_mode(STORE, 1, True, ttl_s=60)
    host, port = client.base_url.host, client.base_url.port
    assert port is not None
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(
            b"POST /v1/associates/p/get-work?wait=10 HTTP/1.1\r\n"
            + f"Host: {host}\r\n".encode()
            + b"Content-Length: 0\r\n\r\n"
        )
        asyncio.run(_until_waiting(rds, namespace))
    # The client is gone. The owner's tick claims the item for the request if it still
    # waits; either way nothing may stay claimed for the client that left (the lease
    # is 60 s: an item that comes back only when it lapses fails the deadline).
    assign_waiting(batch, STORE, 1, time.time())
    deadline = time.monotonic() + 20
    while rds.zcard(_waiting_key(namespace)) or work.counts(STORE)["claimed"]:
        assert time.monotonic() < deadline, "a claim is held for a client that left"
        time.sleep(0.05)  # polls the Redis server, an external process, with a deadline
    assert work.counts(STORE)["queued"] == 1
