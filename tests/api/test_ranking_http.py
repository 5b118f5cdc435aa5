"""``GET /v1/stores/ranking`` over HTTP (real Redis): the neediest stores first, with the
parts of each score, the formula and the weights."""

from __future__ import annotations

import httpx

from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import WorkQueue


def test_the_ranking_lists_the_neediest_store_first_with_its_parts(
    client: httpx.Client, work: WorkQueue
) -> None:
    work.register_associate(Associate(id="ann", home_store="staffed", roles=frozenset({"x"})))
    assert work.get_work("ann") is None
    work.enqueue(WorkItem(id="w1", store="busy", role="x"))
    for store in ("staffed", "busy"):
        work.refresh_score(store, epoch=1)

    answer = client.get("/v1/stores/ranking")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["formula"].startswith("score = work_weight * work")
    assert body["weights"]["associate_weight"] == 2.0
    assert [s["store"] for s in body["stores"]] == ["busy", "staffed"]
    busy, staffed = body["stores"]
    assert (busy["work"], busy["queued"], busy["associates"], busy["score"]) == (1, 1, 0, 1.0)
    assert (staffed["associates"], staffed["score"]) == (1, -2.0)
    assert [s["store"] for s in client.get("/v1/stores/ranking?limit=1").json()["stores"]] == [
        "busy"
    ]


def test_a_bad_limit_gets_a_4xx_with_its_code(client: httpx.Client) -> None:
    answer = client.get("/v1/stores/ranking?limit=0")
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
