"""A partition's dead letters over HTTP (real Redis): listed with their reasons, a
corrected event re-submitted once; bad input gets a 4xx with its code."""

from __future__ import annotations

from typing import Any

import httpx
import redis

from jarvis.models.work import WorkItem
from jarvis.store.keys import PartitionKeys
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue

STORE = "s1"


def _corrected() -> dict[str, Any]:
    item = WorkItem(id="w1", store=STORE, role="picker").model_dump(mode="json")
    return {"id": "e-1", "partition": STORE, "at": 1, "type": "work_submitted", "item": item}


def test_dead_letters_are_listed_and_resubmitted_once(
    client: httpx.Client, work: WorkQueue, rds: redis.Redis, namespace: str
) -> None:
    rds.xadd(PartitionKeys(STORE, namespace).events_in, {"event": '{"id": "e-1"}'})
    assert WorkEvents(work).apply(STORE, epoch=1).dead_lettered == 1

    listed = client.get(f"/v1/partitions/{STORE}/dead-letters")
    assert listed.status_code == 200, listed.text
    [letter] = listed.json()["items"]
    assert letter["reason"].startswith("invalid event: ")
    assert (letter["event"], letter["resubmitted"]) == ('{"id": "e-1"}', None)

    url = f"/v1/partitions/{STORE}/dead-letters/{letter['id']}/resubmit"
    first = client.post(url, json={"event": _corrected()})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "resubmitted"
    again = client.post(url, json={"event": _corrected()})
    assert again.json() == {**first.json(), "status": "already_resubmitted"}
    assert (
        client.get(f"/v1/partitions/{STORE}/dead-letters").json()["items"][0]["resubmitted"][
            "stream_id"
        ]
        == first.json()["stream_id"]
    )

    assert WorkEvents(work).apply(STORE, epoch=1).applied == 1
    assert [q.item.id for q in work.queue(STORE)] == ["w1"]


def test_bad_resubmissions_get_a_4xx_with_their_code(
    client: httpx.Client, work: WorkQueue, rds: redis.Redis, namespace: str
) -> None:
    rds.xadd(PartitionKeys(STORE, namespace).events_in, {"event": "nope"})
    WorkEvents(work).apply(STORE, epoch=1)
    [letter] = client.get(f"/v1/partitions/{STORE}/dead-letters").json()["items"]
    url = f"/v1/partitions/{STORE}/dead-letters/{letter['id']}/resubmit"

    invalid = client.post(url, json={"event": {**_corrected(), "type": "work_teleported"}})
    assert (invalid.status_code, invalid.json()["code"]) == (400, "bad_input")
    elsewhere = client.post(url, json={"event": {**_corrected(), "partition": "s2"}})
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (400, "bad_input")
    unknown = client.post(
        f"/v1/partitions/{STORE}/dead-letters/1-0/resubmit", json={"event": _corrected()}
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    no_body = client.post(url, json={"evnt": {}})
    assert (no_body.status_code, no_body.json()["code"]) == (422, "invalid_request")
    bad_id = client.get(f"/v1/partitions/{STORE}/dead-letters?after=latest")
    assert (bad_id.status_code, bad_id.json()["code"]) == (400, "bad_input")
    assert (
        client.get(f"/v1/partitions/{STORE}/dead-letters").json()["items"][0]["resubmitted"] is None
    )
