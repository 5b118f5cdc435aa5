"""The HTTP interface without a member: what ``jarvis api`` serves.

Every store work endpoint (submit, associates, get-work with or without a wait,
complete, release, heartbeat, cancel, update, queue, dead set) and event submission
are each one or a few atomic Redis scripts that need no owner, so a process with only
a Redis client serves them as well as a member does; the owner of a store still drives
batch mode from its tick (a waiting get-work joins the store's waiting set in Redis).
The ownership views (``/v1/partitions``, ``/v1/members``) need ZooKeeper and are not
served here.

``/readyz`` answers 200 while Redis answers ``PING`` (``zookeeper`` is always false:
this process does not use it) and 503 once the process is stopping.
"""

from __future__ import annotations

import os
import threading

import redis
from fastapi import FastAPI

from jarvis.api.app import ApiContext, create_app
from jarvis.api.schemas import ReadyOut
from jarvis.api.security import HttpPolicy
from jarvis.config import Settings
from jarvis.connections import ranking_weights, redis_client, replication
from jarvis.store.producer import Producer
from jarvis.store.runner import ScriptRunner
from jarvis.store.work.batch import WorkBatch
from jarvis.store.work.queue import WorkQueue

__all__ = ["standalone_app"]


def standalone_app(settings: Settings, stopping: threading.Event | None = None) -> FastAPI:
    """The app of one ``jarvis api`` worker process: one Redis pool
    (``redis_max_connections``) shared by every request of the process, its connections
    named ``jarvis-api-<pid>`` (``CLIENT LIST`` tells the workers apart)."""
    client = redis_client(settings, client_name=f"jarvis-api-{os.getpid()}")
    scripts = ScriptRunner(client, replication=replication(settings))
    work = WorkQueue(
        client,
        settings.namespace,
        claim_ttl=settings.claim_ttl,
        scripts=scripts,
        max_attempts=settings.work_max_attempts,
    )
    stop = stopping or threading.Event()

    def readiness() -> ReadyOut:
        try:
            reachable = bool(client.ping())
        except redis.RedisError:
            reachable = False
        draining = stop.is_set()
        return ReadyOut(
            ready=reachable and not draining, zookeeper=False, redis=reachable, draining=draining
        )

    context = ApiContext(
        work=work,
        producer=Producer(client, settings.namespace, replication=scripts.replication),
        readiness=readiness,
        partitions=None,
        members=None,
        batch=WorkBatch(work),
        policy=HttpPolicy(
            tokens=settings.http_token_values(),
            read_open=settings.http_read_open,
            max_body=settings.http_max_body,
        ),
        max_batch=settings.http_max_batch,
        ranking=ranking_weights(settings),
        inline_get_work=True,
    )
    return create_app(context)
