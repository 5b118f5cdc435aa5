"""Bearer tokens on every state-changing endpoint; read-only access configurable; caps."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest

from jarvis.api import ApiContext, HttpServer, create_app
from jarvis.api.security import HttpPolicy
from jarvis.testing.servers import free_port

TOKEN = "s3cret-token-of-the-tests"
ITEM = {"id": "w1", "store": "s1", "role": "pick"}


def _serve(
    context: ApiContext, policy: HttpPolicy, max_batch: int = 1000
) -> Iterator[httpx.Client]:
    app = create_app(dataclasses.replace(context, policy=policy, max_batch=max_batch))
    listen = f"127.0.0.1:{free_port()}"
    server = HttpServer(app, listen)
    server.start()
    try:
        with httpx.Client(base_url=f"http://{listen}", timeout=30.0) as c:
            yield c
    finally:
        server.stop()


@pytest.fixture
def guarded(context: ApiContext) -> Iterator[httpx.Client]:
    yield from _serve(context, HttpPolicy(tokens=(TOKEN,), read_open=True, max_body=4096), 3)


@pytest.fixture
def closed(context: ApiContext) -> Iterator[httpx.Client]:
    yield from _serve(context, HttpPolicy(tokens=(TOKEN,), read_open=False))


def test_a_state_change_without_a_token_is_401(guarded: httpx.Client) -> None:
    answer = guarded.post("/v1/work", json=ITEM)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["error"] == "a bearer token is required"
    assert answer.json()["code"] == "unauthenticated"
    # Nothing was queued.
    assert guarded.get("/v1/stores/s1/queue").json()["counts"]["queued"] == 0


def test_a_state_change_with_a_wrong_token_is_403(guarded: httpx.Client) -> None:
    answer = guarded.post("/v1/work", json=ITEM, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 403
    assert "not valid" in answer.json()["error"]
    assert answer.json()["code"] == "forbidden"
    answer = guarded.put("/v1/associates/a1", json={}, headers={"Authorization": "Basic x"})
    assert answer.status_code == 401


def test_a_state_change_with_the_token_goes_through(guarded: httpx.Client) -> None:
    answer = guarded.post("/v1/work", json=ITEM, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 201, answer.text
    assert guarded.get("/v1/stores/s1/queue").json()["counts"]["queued"] == 1


def test_probes_never_need_a_token_and_reads_are_open_by_default(guarded: httpx.Client) -> None:
    assert guarded.get("/healthz").status_code == 200
    assert guarded.get("/readyz").status_code in (200, 503)
    assert guarded.get("/v1/partitions").status_code == 200
    assert guarded.get("/openapi.json").status_code == 200


def test_reads_need_a_token_when_configured_closed(closed: httpx.Client) -> None:
    assert closed.get("/healthz").status_code == 200
    assert closed.get("/v1/partitions").status_code == 401
    ok = closed.get("/v1/partitions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_a_body_over_the_cap_is_413_before_the_app_reads_it(guarded: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    big = {"events": [{"pad": "x" * 5000}]}
    answer = guarded.post("/v1/events", json=big, headers=auth)
    assert answer.status_code == 413
    assert "4096 bytes" in answer.json()["error"]
    assert answer.json()["code"] == "payload_too_large"


def test_a_batch_over_the_cap_is_413_and_writes_nothing(guarded: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    events = [
        {"id": f"e{i}", "partition": "s1", "at": 1.0, "type": "work_submitted",
         "item": {**ITEM, "id": f"w{i}"}}
        for i in range(4)
    ]  # fmt: skip
    answer = guarded.post("/v1/events", json={"events": events}, headers=auth)
    assert answer.status_code == 413
    assert "at most 3" in answer.json()["error"]
    assert guarded.post("/v1/events", json={"events": events[:3]}, headers=auth).status_code == 202
