"""``GET /v1/stores/ranking`` over HTTP (real Redis): the neediest stores first, with the
parts of each score, the formula and the weights."""

from __future__ import annotations

import httpx
from kazoo.client import KazooClient

from jarvis.election import PartitionRegistry
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import WorkQueue
from tests.api.conftest import CLUSTER


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


def test_a_store_partition_that_never_ticked_is_listed_too(
    client: httpx.Client, work: WorkQueue, zk: KazooClient
) -> None:
    PartitionRegistry(zk, CLUSTER).add("quiet", "store", {})
    work.register_associate(Associate(id="ann", home_store="quiet", roles=frozenset({"x"})))
    assert work.get_work("ann") is None  # no owner tick ever wrote its score

    body = client.get("/v1/stores/ranking").json()

    assert [(s["store"], s["associates"], s["score"]) for s in body["stores"]] == [
        ("quiet", 1, -2.0)
    ]
