"""Store change events end to end over HTTP (real Redis): a producer posts
``work_updated`` and ``work_cancelled`` to ``/v1/events``, the owner applies them, and a
holder of the cancelled claim gets 409 ``item_cancelled``."""

from __future__ import annotations

from typing import Any

import httpx

from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue

STORE = "s1"


def _event(event_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "partition": STORE, "at": 1, "type": kind, **fields}


def test_events_cancel_a_claim_and_reorder_the_queue_and_the_holder_gets_its_code(
    client: httpx.Client, work: WorkQueue
) -> None:
    work.register_associate(Associate(id="ann", home_store=STORE, roles=frozenset({"x"})))
    for item_id in ("w1", "w2", "w3"):
        assert (
            client.post(
                "/v1/work", json=WorkItem(id=item_id, store=STORE, role="x").model_dump()
            ).status_code
            == 201
        )
    claim = client.post("/v1/associates/ann/get-work").json()
    assert claim["item"]["id"] == "w1"

    posted = client.post(
        "/v1/events",
        json={"events": [
            _event("e1", "work_cancelled", item_id="w1"),
            _event("e2", "work_updated", item_id="w3", priority=50),
        ]},
    )  # fmt: skip
    assert posted.status_code == 202, posted.text
    assert WorkEvents(work).apply(STORE, epoch=1).applied == 2

    holder = {"associate": "ann", "token": claim["token"]}
    for action in ("heartbeat", "complete"):
        answer = client.post(f"/v1/stores/{STORE}/work/w1/{action}", json=holder)
        assert answer.status_code == 409
        assert answer.json()["code"] == "item_cancelled"
    assert [q["item"]["id"] for q in client.get(f"/v1/stores/{STORE}/queue").json()["items"]] == [
        "w3",
        "w2",
    ]


def test_a_work_updated_that_changes_nothing_is_refused_with_its_code(
    client: httpx.Client,
) -> None:
    answer = client.post(
        "/v1/events", json={"events": [_event("e1", "work_updated", item_id="w1")]}
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_input"
    assert "changes nothing" in answer.json()["error"]
