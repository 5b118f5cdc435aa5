"""Couriers over HTTP: their orders (with a long poll that returns when one is committed),
and accept or decline, written as events the city's owner applies."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import redis

from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.faults import wait_for
from tests.store.builders import courier, event, order

CITY = "lyon"
EPOCH = 7
BASE = f"/v1/cities/{CITY}/couriers"


def _city(rds: redis.Redis, namespace: str) -> CityStore:
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "order_created", order=order("o1", created_at=1001.0)),
            event(CITY, "order_created", order=order("o2", created_at=1002.0)),
            event(CITY, "courier_online", courier=courier("c1", capacity=2)),
            event(CITY, "courier_online", courier=courier("c2")),
        ]
    )
    store = CityStore(rds, CITY, namespace)
    assert store.apply_events(EPOCH).dead_lettered == 0
    return store


def _hexists_calls(rds: redis.Redis) -> int:
    stats = rds.info("commandstats")
    return int(stats.get("cmdstat_hexists", {}).get("calls", 0))


def test_a_long_poll_returns_the_assignment_committed_while_it_waits(
    client: httpx.Client, rds: redis.Redis, namespace: str
) -> None:
    store = _city(rds, namespace)
    now = client.get(f"{BASE}/c1/assignments")
    assert now.status_code == 200, now.text
    assert now.json() == {"city": CITY, "courier": "c1", "orders": [], "stops": []}
    before = _hexists_calls(rds)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.get, f"{BASE}/c1/assignments", params={"wait": 10})
        # the request reads the courier's orders again and again: it is waiting
        wait_for(
            lambda: _hexists_calls(rds) >= before + 3,
            10.0,
            "the long poll never read the courier's orders repeatedly",
        )
        assert store.commit(EPOCH, 1, [("o1", "c1")], 2000.0).accepted
        answer = waiting.result(timeout=30)
    assert answer.status_code == 200, answer.text
    ((held),) = answer.json()["orders"]
    assert (held["order"]["id"], held["status"], held["expires_at"]) == ("o1", "assigned", None)
    # with the order known, an immediate answer still lists it
    known = client.get(f"{BASE}/c1/assignments", params={"known": "o1"})
    assert [h["order"]["id"] for h in known.json()["orders"]] == ["o1"]


def test_the_assignments_view_lists_the_planned_route_in_its_stop_order(
    client: httpx.Client, rds: redis.Redis, namespace: str
) -> None:
    store = _city(rds, namespace)
    first = (("o1", True), ("o1", False))
    assert store.commit(EPOCH, 1, [("o1", "c1")], 2000.0, routes={"c1": first}).accepted
    Producer(rds, namespace).submit(event(CITY, "order_picked_up", order_id="o1"))
    assert store.apply_events(EPOCH).applied == 1
    # the second order is picked up and delivered before the first one's drop-off
    route = (("o2", True), ("o2", False), ("o1", False))
    assert store.commit(EPOCH, 2, [("o2", "c1")], 2001.0, routes={"c1": route}).accepted
    body = client.get(f"{BASE}/c1/assignments").json()
    assert [(h["order"]["id"], h["status"]) for h in body["orders"]] == [
        ("o2", "assigned"),
        ("o1", "picked_up"),
    ]
    assert body["stops"] == [
        {"order_id": "o2", "action": "pickup"},
        {"order_id": "o2", "action": "dropoff"},
        {"order_id": "o1", "action": "dropoff"},
    ]


def test_a_courier_accepts_and_declines_over_http(
    client: httpx.Client, rds: redis.Redis, namespace: str
) -> None:
    store = _city(rds, namespace)
    t = float(int(time.time()))  # offers also expire by the stream times of events
    assert store.commit(EPOCH, 1, [("o1", "c1")], t, offer_timeout_s=600.0).accepted
    offered = client.get(f"{BASE}/c1/assignments").json()["orders"]
    assert [(h["order"]["id"], h["status"]) for h in offered] == [("o1", "offered")]
    assert offered[0]["expires_at"] == t + 600.0

    accept = client.post(f"{BASE}/c1/orders/o1/accept", json={"event_id": "acc-1"})
    assert accept.status_code == 202, accept.text
    assert accept.json() == {"event_id": "acc-1", "type": "offer_accepted"}
    retried = client.post(f"{BASE}/c1/orders/o1/accept", json={"event_id": "acc-1"})
    assert retried.status_code == 202, retried.text
    result = store.apply_events(EPOCH, now=t + 1)
    assert (result.applied, result.duplicates, result.dead_lettered) == (1, 1, 0)
    listed = client.get(f"{BASE}/c1/assignments").json()["orders"]
    assert [(h["order"]["id"], h["status"]) for h in listed] == [("o1", "assigned")]

    decline = client.post(f"{BASE}/c1/orders/o1/decline", json={"reason": "flat tyre"})
    assert decline.status_code == 202, decline.text
    assert store.apply_events(EPOCH, now=t + 2).applied == 1
    assert client.get(f"{BASE}/c1/assignments").json()["orders"] == []
    assert [o.id for o in store.snapshot().orders] == ["o1", "o2"]
    (gone,) = [d for d in store.decisions() if d.type == "unassigned"]
    assert (gone.task, gone.worker, gone.reason) == ("o1", "c1", "declined: flat tyre")


def test_requests_that_do_not_fit_the_city_get_clear_errors(
    client: httpx.Client, rds: redis.Redis, namespace: str
) -> None:
    store = _city(rds, namespace)
    assert store.commit(EPOCH, 1, [("o1", "c1")], 2000.0).accepted
    cases = [
        ("get", f"{BASE}/nobody/assignments", 404, "unknown_courier"),
        ("post", f"{BASE}/nobody/orders/o1/accept", 404, "unknown_courier"),
        ("post", f"{BASE}/c1/orders/o1/accept", 409, "not_offered"),  # assigned, no offer
        ("post", f"{BASE}/c2/orders/o1/decline", 409, "not_offered"),  # someone else's
        ("post", f"{BASE}/c1/orders/o2/decline", 409, "not_offered"),  # open
        ("get", "/v1/cities/bad city!/couriers/c1/assignments", 400, "bad_input"),
        ("get", f"{BASE}/c1/assignments?wait=-1", 422, "invalid_request"),
    ]
    for method, url, status, code in cases:
        answer = client.request(method.upper(), url)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (url, answer.text)
    bad_id = client.post(f"{BASE}/c1/orders/o1/decline", json={"event_id": "no spaces"})
    assert (bad_id.status_code, bad_id.json()["code"]) == (422, "invalid_request")
    assert store.stats().get("dead_letters") is None


STREAM = f"/v1/cities/{CITY}/decisions/stream"


def _read_events(lines: Iterator[str], n: int) -> list[dict[str, str]]:
    """The next ``n`` server-sent events (comments skipped), each as its fields."""
    out: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if fields:
                out.append(fields)
                fields = {}
            if len(out) == n:
                return out
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    raise AssertionError(f"the stream ended after {len(out)} of {n} events")


def _brief(events: list[dict[str, str]]) -> list[tuple[str, str | None]]:
    return [(e["event"], json.loads(e["data"]).get("task")) for e in events]


def test_the_decision_stream_sends_each_decision_once_and_resumes_after_the_last_seen(
    client: httpx.Client, rds: redis.Redis, namespace: str
) -> None:
    store = _city(rds, namespace)
    assert store.commit(EPOCH, 1, [("o1", "c1")], 2000.0).accepted
    with client.stream("GET", STREAM, params={"after": "-"}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.iter_lines()
        first = _read_events(lines, 2)
        assert _brief(first) == [("assignment", "o1"), ("tick", None)]
        # committed while the stream is open: it arrives on the same stream
        assert store.commit(EPOCH, 2, [("o2", "c2")], 2001.0).accepted
        second = _read_events(lines, 2)
        assert _brief(second) == [("assignment", "o2"), ("tick", None)]
    ids = [e["id"] for e in first + second]
    assert ids == [d.id for d in store.decisions()]
    assert json.loads(second[0]["data"])["worker"] == "c2"
    # a client that reconnects with Last-Event-ID gets what came after it, once
    with client.stream("GET", STREAM, headers={"Last-Event-ID": ids[1]}) as answer:
        assert _brief(_read_events(answer.iter_lines(), 2)) == _brief(second)
    # by default only what comes next
    with client.stream("GET", STREAM) as answer:
        lines = answer.iter_lines()
        store.record_tick(EPOCH, 3, 2002.0)
        (tick,) = _read_events(lines, 1)
    assert (tick["event"], json.loads(tick["data"])["tick"]) == ("tick", 3)
    bad = client.get(STREAM, params={"after": "yesterday"})
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_input")
