"""Every endpoint's happy path and its answers to bad input (real Redis and ZooKeeper)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient
from openapi_spec_validator import validate

from jarvis.api.errors import ERROR_CODES
from jarvis.api.schemas import MAX_EVENTS_PER_REQUEST
from jarvis.election import PartitionRegistry, PlacementControls
from jarvis.store.work.queue import WorkQueue
from tests.api.conftest import CLUSTER, Clock
from tests.faults import wait_for

STORE = "s1"


def _item(item_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "store": STORE, "role": "picker", **extra}


def _associate(client: httpx.Client, aid: str = "a1", **extra: Any) -> dict[str, Any]:
    body = {"id": aid, "home_store": STORE, "roles": ["picker"], **extra}
    assert client.put(f"/v1/associates/{aid}", json=body).status_code == 200
    return body


def _error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """The message of an error answer; checks its shape, and that its code is a listed
    one of this status (and is ``code`` when given)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "error", "detail"}
    assert ERROR_CODES[body["code"]][0] == status, body
    if code is not None:
        assert body["code"] == code, body
    message = body["error"]
    assert isinstance(message, str)
    assert message
    return message


def _claim(client: httpx.Client, aid: str = "a1") -> dict[str, Any]:
    response = client.post(f"/v1/associates/{aid}/get-work")
    assert response.status_code == 200, response.text
    claim: dict[str, Any] = response.json()
    return claim


# --- health and description -----------------------------------------------------------


def test_health_and_readiness(client: httpx.Client, zk: KazooClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "zookeeper": True,
        "redis": True,
        "draining": False,
        "overloaded": False,
        "tick_lag_seconds": 0.0,
        "partitions": 0,
        "max_partitions": None,
    }
    zk.stop()
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["zookeeper"] is False
    assert "jarvis_get_work_seconds" in client.get("/metrics").text


def test_openapi_description_is_served_and_valid(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    validate(spec)
    paths = spec["paths"]
    assert set(paths) >= {
        "/healthz",
        "/readyz",
        "/v1/work",
        "/v1/associates/{associate_id}",
        "/v1/associates/{associate_id}/get-work",
        "/v1/stores/{store}/work/{item_id}/complete",
        "/v1/stores/{store}/work/{item_id}/release",
        "/v1/stores/{store}/work/{item_id}/heartbeat",
        "/v1/stores/{store}/queue",
        "/v1/events",
        "/v1/partitions",
        "/v1/members",
    }
    get_work = paths["/v1/associates/{associate_id}/get-work"]["post"]
    assert {"200", "204", "404", "409", "422"} <= set(get_work["responses"])
    assert "ClaimOut" in str(get_work["responses"]["200"])


def test_unknown_routes_and_methods_answer_in_the_error_shape(client: httpx.Client) -> None:
    assert _error(client.get("/v1/nowhere"), 404, "not_found") == "Not Found"
    wrong = client.get("/v1/work")
    _error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"


# --- submit, register, get work, claims -----------------------------------------------


def test_submit_get_complete(client: httpx.Client, work: WorkQueue) -> None:
    created = client.post("/v1/work", json=_item("w1", priority=10))
    assert created.status_code == 201
    assert created.json() == {"item": "w1", "queued": True}
    _associate(client)
    claim = _claim(client)
    assert (claim["item"]["id"], claim["associate"], claim["store"]) == ("w1", "a1", STORE)
    assert claim["expires_at"] == pytest.approx(claim["claimed_at"] + 60.0)
    done = client.post(
        f"/v1/stores/{STORE}/work/w1/complete", json={"associate": "a1", "token": claim["token"]}
    )
    assert done.json() == {"item": "w1", "status": "done"}
    assert work.counts(STORE)["done"] == 1
    assert client.post("/v1/associates/a1/get-work").status_code == 204


def test_release_and_heartbeat(client: httpx.Client, work: WorkQueue) -> None:
    client.post("/v1/work", json=_item("w1"))
    _associate(client)
    claim = _claim(client)
    beat = client.post(f"/v1/stores/{STORE}/work/w1/heartbeat", json={"associate": "a1"})
    assert beat.status_code == 200
    assert beat.json()["expires_at"] >= claim["expires_at"]
    released = client.post(f"/v1/stores/{STORE}/work/w1/release", json={"associate": "a1"})
    assert released.json() == {"item": "w1", "status": "queued"}
    assert work.counts(STORE)["queued"] == 1
    assert _claim(client)["item"]["id"] == "w1"


def test_queue_lists_items_next_first_with_counts(client: httpx.Client) -> None:
    for i, priority in enumerate([0, 100, 50]):
        client.post("/v1/work", json=_item(f"w{i}", priority=priority))
    body = client.get(f"/v1/stores/{STORE}/queue", params={"limit": 2}).json()
    assert body["store"] == STORE
    assert [row["item"]["id"] for row in body["items"]] == ["w1", "w2"]
    assert body["counts"]["queued"] == body["counts"]["submitted"] == 3


def test_duplicate_work_is_409(client: httpx.Client) -> None:
    client.post("/v1/work", json=_item("w1"))
    assert "already" in _error(client.post("/v1/work", json=_item("w1")), 409, "duplicate_item")


@pytest.mark.parametrize(
    "body",
    [
        {"id": "w1", "store": STORE},  # no role
        _item("w1", colour="red"),  # unknown field
        _item("w1", priority=101),
        _item("w1", duration_s=-1),
        _item("bad id"),
        {**_item("w1"), "store": "bad store"},
        [],
        "text",
    ],
)
def test_malformed_work_is_422(client: httpx.Client, body: Any) -> None:
    _error(client.post("/v1/work", json=body), 422)


def test_body_that_is_not_json_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/v1/work", content=b"{not json", headers={"content-type": "application/json"}
    )
    _error(response, 422)


def test_get_work_answers(client: httpx.Client) -> None:
    ghost = client.post("/v1/associates/ghost/get-work")
    assert "unknown associate" in _error(ghost, 404, "unknown_associate")
    _error(client.post("/v1/associates/bad%20id/get-work"), 400, "bad_input")
    _associate(client)
    _error(client.post("/v1/associates/a1/get-work", params={"wait": 11}), 422)
    _error(client.post("/v1/associates/a1/get-work", params={"wait": "soon"}), 422)
    assert client.post("/v1/associates/a1/get-work", params={"wait": 0.2}).status_code == 204


def _waiting(client: httpx.Client) -> float:
    """The ``jarvis_get_work_waiting`` gauge, as the server's /metrics shows it."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("jarvis_get_work_waiting "):
            return float(line.split()[1])
    raise AssertionError("/metrics has no jarvis_get_work_waiting")


def test_get_work_that_waits_gets_work_submitted_meanwhile(client: httpx.Client) -> None:
    _associate(client)
    before = _waiting(client)
    answers: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(client.post("/v1/associates/a1/get-work", params={"wait": 8}))
    )
    waiter.start()
    # Submit only once the request found nothing and waits, so the wait is what serves it.
    wait_for(lambda: _waiting(client) > before, 8, "the get-work request waits, per /metrics")
    assert client.post("/v1/work", json=_item("late")).status_code == 201
    waiter.join(15)
    assert not waiter.is_alive(), "the waiting get-work request never returned"
    assert _waiting(client) == before
    assert answers[0].status_code == 200
    assert answers[0].json()["item"]["id"] == "late"


def test_register_associate_answers(client: httpx.Client) -> None:
    body = _associate(client, "a1", licences=["forklift"])
    assert client.put("/v1/associates/a1", json=body).json()["licences"] == ["forklift"]
    assert "differ" in _error(client.put("/v1/associates/a2", json=body), 400)
    _error(client.put("/v1/associates/a1", json={"id": "a1", "home_store": STORE}), 422)
    _error(client.put("/v1/associates/a1", json={**body, "roles": []}), 422)


def test_claim_calls_refuse_what_you_do_not_hold(client: httpx.Client) -> None:
    client.post("/v1/work", json=_item("w1"))
    _associate(client, "a1")
    _associate(client, "a2")
    claim = _claim(client, "a1")
    for action in ("complete", "release", "heartbeat"):
        url = f"/v1/stores/{STORE}/work/w1/{action}"
        other = client.post(url, json={"associate": "a2"})
        assert "another associate" in _error(other, 409, "not_your_claim")
        stale = {"associate": "a1", "token": claim["token"] + 1}
        assert "no longer held" in _error(client.post(url, json=stale), 409, "claim_replaced")
        never = f"/v1/stores/{STORE}/work/nothing/{action}"
        never_claimed = client.post(never, json={"associate": "a1"})
        assert "not claimed" in _error(never_claimed, 409, "not_claimed")
        _error(
            client.post(f"/v1/stores/bad%20store/work/w1/{action}", json={"associate": "a1"}), 400
        )
        _error(
            client.post(f"/v1/stores/{STORE}/work/bad%20id/{action}", json={"associate": "a1"}), 400
        )
        _error(client.post(url, json={"associate": "a1", "token": -1}), 422, "invalid_request")
        _error(client.post(url, json={"who": "a1"}), 422)


def test_a_lapsed_claim_answers_claim_lapsed(client: httpx.Client, clock: Clock) -> None:
    client.post("/v1/work", json=_item("w1"))
    _associate(client, "a1")
    claim = _claim(client, "a1")
    clock.offset += 61.0  # past the 60 s lease; nobody has reaped it yet
    holder = {"associate": "a1", "token": claim["token"]}
    for action in ("heartbeat", "release", "complete"):
        url = f"/v1/stores/{STORE}/work/w1/{action}"
        assert "lapsed" in _error(client.post(url, json=holder), 409, "claim_lapsed")


def test_the_api_description_lists_every_error_code(client: httpx.Client) -> None:
    description = client.get("/openapi.json").json()["info"]["description"]
    for code, (status, _) in ERROR_CODES.items():
        assert f"| `{code}` | {status} |" in description


def test_queue_answers(client: httpx.Client) -> None:
    _error(client.get("/v1/stores/bad%20store/queue"), 400)
    _error(client.get(f"/v1/stores/{STORE}/queue", params={"limit": 0}), 422)
    assert client.get(f"/v1/stores/{STORE}/queue").json()["items"] == []


# --- events and views -----------------------------------------------------------------


def _submitted(event_id: str, item_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "partition": STORE,
        "at": 1.0,
        "type": "work_submitted",
        "item": _item(item_id),
    }


def test_events_are_accepted_all_or_none(client: httpx.Client, work: WorkQueue) -> None:
    stream = f"{work.namespace}:{{{STORE}}}:in"
    accepted = client.post("/v1/events", json={"events": [_submitted("e1", "w1")]})
    assert accepted.status_code == 202
    assert accepted.json() == {"accepted": 1}
    assert work.redis.xlen(stream) == 1
    bad = [_submitted("e2", "w2"), {"id": "e3", "partition": STORE, "type": "nope", "at": 1}]
    assert "events[1]" in _error(client.post("/v1/events", json={"events": bad}), 400)
    assert work.redis.xlen(stream) == 1  # nothing of the refused batch was written
    too_many = [_submitted(f"e{i}", f"w{i}") for i in range(MAX_EVENTS_PER_REQUEST + 1)]
    _error(client.post("/v1/events", json={"events": too_many}), 422)
    _error(client.post("/v1/events", json={"events": []}), 422)
    _error(client.post("/v1/events", json={"events": ["not an object"]}), 422)
    assert work.redis.xlen(stream) == 1


def test_partitions_and_members(client: httpx.Client, zk: KazooClient) -> None:
    PartitionRegistry(zk, CLUSTER).add(STORE, "store", {"pin": {"zone": "z1"}})
    assert client.get("/v1/partitions").json() == [
        {"partition": STORE, "kind": "store", "owner": None, "zone": None, "epoch": None,
         "since": None, "pin": "zone z1", "moving_to": None, "frozen": False,
         "weight": 1.0}
    ]  # fmt: skip
    assert client.get("/v1/members").json() == []
    PlacementControls(zk, CLUSTER).freeze("deploy", 1.0)
    assert [row["frozen"] for row in client.get("/v1/partitions").json()] == [True]
    PlacementControls(zk, CLUSTER).unfreeze()
    assert [row["frozen"] for row in client.get("/v1/partitions").json()] == [False]
    zk.stop()
    _error(client.get("/v1/partitions"), 503)


# --- no 500 for bad input -------------------------------------------------------------

_GARBAGE: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b"{",
    b'"text"',
    b"1e999",
    b'{"a": 1}',
    b'{"associate": null}',
    b"[" * 5000 + b"]" * 5000,
    b"\xff\xfe",
    b'{"events": [{"id": "e", "partition": "s1", "at": 1e999, "type": "work_submitted"}]}',
]


def test_garbage_bodies_never_get_a_500(client: httpx.Client) -> None:
    _associate(client)
    targets = [
        ("POST", "/v1/work"),
        ("PUT", "/v1/associates/a1"),
        ("POST", f"/v1/stores/{STORE}/work/w1/complete"),
        ("POST", f"/v1/stores/{STORE}/work/w1/release"),
        ("POST", f"/v1/stores/{STORE}/work/w1/heartbeat"),
        ("POST", "/v1/events"),
    ]
    for method, url in targets:
        for body in _GARBAGE:
            response = client.request(
                method, url, content=body, headers={"content-type": "application/json"}
            )
            assert 400 <= response.status_code < 500, (method, url, body[:40], response.text)
            assert "error" in response.json()


# --- the dead set ---------------------------------------------------------------------


def test_dead_set_list_retry_and_discard(client: httpx.Client) -> None:
    _associate(client, "a1")
    for item_id in ("w1", "w2"):
        assert client.post("/v1/work", json=_item(item_id, max_attempts=1)).status_code == 201
        claim = _claim(client, "a1")
        release = f"/v1/stores/{STORE}/work/{claim['item']['id']}/release"
        answer = client.post(release, json={"associate": "a1", "token": claim["token"]})
        assert answer.json()["status"] == "dead"
    dead = client.get(f"/v1/stores/{STORE}/dead").json()
    assert (dead["store"], dead["size"]) == (STORE, 2)
    assert {d["item"]["id"] for d in dead["items"]} == {"w1", "w2"}
    assert all(d["why"] == "released" and d["attempts"] == 1 for d in dead["items"])
    assert all(d["history"][0]["a"] == "a1" for d in dead["items"])

    assert client.post(f"/v1/stores/{STORE}/dead/w1/retry").json()["status"] == "queued"
    assert _claim(client, "a1")["item"]["id"] == "w1"
    assert client.delete(f"/v1/stores/{STORE}/dead/w2").json()["status"] == "discarded"
    assert client.get(f"/v1/stores/{STORE}/dead").json() == {"store": STORE, "size": 0, "items": []}

    _error(client.post(f"/v1/stores/{STORE}/dead/w2/retry"), 404, "not_found")
    _error(client.delete(f"/v1/stores/{STORE}/dead/w2"), 404, "not_found")
    _error(client.post(f"/v1/stores/{STORE}/dead/bad%20id/retry"), 400, "bad_input")
    _error(client.get("/v1/stores/bad%20store/dead"), 400, "bad_input")
    _error(client.get(f"/v1/stores/{STORE}/dead", params={"limit": 0}), 422, "invalid_request")


# --- cancel and update ----------------------------------------------------------------


def test_cancel_a_queued_and_a_claimed_item(client: httpx.Client) -> None:
    _associate(client, "a1")
    client.post("/v1/work", json=_item("w1", due_at=2_000_000_000.0))
    client.post("/v1/work", json=_item("w2", due_at=2_000_000_600.0))
    claim = _claim(client, "a1")
    assert claim["item"]["id"] == "w1"
    client.post("/v1/work", json=_item("w3"))

    assert client.delete(f"/v1/stores/{STORE}/work/w3").json()["status"] == "cancelled"
    assert client.delete(f"/v1/stores/{STORE}/work/w1").json()["status"] == "cancelled"
    assert client.delete(f"/v1/stores/{STORE}/work/w1").status_code == 200  # idempotent
    holder = {"associate": "a1", "token": claim["token"]}
    for action in ("heartbeat", "complete"):
        answer = client.post(f"/v1/stores/{STORE}/work/w1/{action}", json=holder)
        assert "cancelled" in _error(answer, 409, "item_cancelled")
    queue = client.get(f"/v1/stores/{STORE}/queue").json()
    assert [q["item"]["id"] for q in queue["items"]] == ["w2"]
    assert queue["counts"]["cancelled"] == 2
    _error(client.delete(f"/v1/stores/{STORE}/work/never"), 404, "not_found")
    _error(client.delete(f"/v1/stores/{STORE}/work/bad%20id"), 400, "bad_input")


def test_patch_reorders_the_queue_and_refuses_bad_fields(client: httpx.Client) -> None:
    client.post("/v1/work", json=_item("w1", due_at=2_000_000_000.0))
    client.post("/v1/work", json=_item("w2", due_at=2_000_000_600.0))
    url = f"/v1/stores/{STORE}/work/w2"
    answer = client.patch(url, json={"due_at": 1_999_999_000.0, "priority": 5})
    assert answer.json() == {"item": "w2", "status": "queued"}
    queue = client.get(f"/v1/stores/{STORE}/queue").json()
    assert [q["item"]["id"] for q in queue["items"]] == ["w2", "w1"]
    assert queue["items"][0]["item"]["priority"] == 5

    _error(client.patch(url, json={}), 400, "bad_input")
    _error(client.patch(url, json={"role": "cashier"}), 422, "invalid_request")
    _error(client.patch(url, json={"priority": 101}), 422, "invalid_request")
    _error(client.patch(f"/v1/stores/{STORE}/work/never", json={"priority": 1}), 404, "not_found")
