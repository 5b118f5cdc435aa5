"""A whole member with a city in acceptance mode (set in its partition config): a courier
app learns its offer by long poll, accepts it over HTTP, and sees it assigned."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient

from jarvis.daemon import Daemon
from jarvis.election import PartitionRegistry
from jarvis.testing.checker import check_cluster
from jarvis.testing.servers import free_port
from tests.api.test_daemon_http import _base, _settings
from tests.faults import wait_for
from tests.store.builders import courier, order

CITY = "nantes"


@pytest.fixture
def daemon(zk_hosts: str, redis_url: str, namespace: str) -> Iterator[Daemon]:
    d = Daemon(_settings(zk_hosts, redis_url, namespace, f"127.0.0.1:{free_port()}"))
    yield d
    if not d.stopped.is_set():
        d.stop(graceful=False)


def _event(kind: str, eid: str, **fields: Any) -> dict[str, Any]:
    return {"id": eid, "partition": CITY, "at": time.time(), "type": kind, **fields}


def test_a_courier_learns_its_offer_by_long_poll_and_accepts_it_over_http(
    daemon: Daemon, zk: KazooClient, namespace: str
) -> None:
    PartitionRegistry(zk, "t").add(CITY, "city", {"acceptance": True, "offer_timeout_s": 600})
    daemon.start()
    now = time.time()
    mine = f"/v1/cities/{CITY}/couriers/c1"
    with httpx.Client(base_url=_base(daemon), timeout=30) as http:
        online = _event("courier_online", "e1", courier=courier("c1").model_dump(mode="json"))
        assert http.post("/v1/events", json={"events": [online]}).status_code == 202
        wait_for(
            lambda: http.get(f"{mine}/assignments").status_code == 200,
            15,
            "the city's owner applied courier_online",
        )
        created = _event(
            "order_created", "e2", order=order("o1", created_at=now).model_dump(mode="json")
        )
        assert http.post("/v1/events", json={"events": [created]}).status_code == 202

        def offered() -> list[dict[str, Any]]:
            answer = http.get(f"{mine}/assignments", params={"wait": 5})
            assert answer.status_code == 200, answer.text
            orders: list[dict[str, Any]] = answer.json()["orders"]
            return orders

        (offer,) = wait_for(offered, 30, "o1 was offered to c1")
        assert (offer["order"]["id"], offer["status"]) == ("o1", "offered")
        assert offer["expires_at"] > now
        accept = http.post(f"{mine}/orders/o1/accept")
        assert accept.status_code == 202, accept.text

        def assigned() -> bool:
            orders = http.get(f"{mine}/assignments").json()["orders"]
            return [(h["order"]["id"], h["status"]) for h in orders] == [("o1", "assigned")]

        wait_for(assigned, 15, "the owner applied c1's acceptance of o1")
    assert daemon.stop(graceful=True)
    report = check_cluster(daemon.redis, [CITY], namespace)
    assert report.safe, report.partitions[CITY]
    assert report.partitions[CITY].assignments == 1
