"""A whole member serving HTTP (settings.http): readiness, ownership views, batch mode."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import redis
from kazoo.client import KazooClient

from jarvis.config import Settings
from jarvis.daemon import Daemon
from jarvis.election import ClusterView, PartitionRegistry
from jarvis.errors import ServerError
from jarvis.testing.servers import free_port
from tests.faults import wait_for

STORE = "s1"


def _settings(zk_hosts: str, redis_url: str, namespace: str, listen: str) -> Settings:
    return Settings(
        zk=zk_hosts,
        redis=redis_url,
        namespace=namespace,
        cluster="t",
        zone="a",
        member="m1",
        tick=0.2,
        session_timeout=4.0,
        drain_timeout=10.0,
        http=listen,
    )


@pytest.fixture
def daemon(zk_hosts: str, redis_url: str, namespace: str) -> Iterator[Daemon]:
    d = Daemon(_settings(zk_hosts, redis_url, namespace, f"127.0.0.1:{free_port()}"))
    yield d
    if not d.stopped.is_set():
        d.stop(graceful=False)


def _base(daemon: Daemon) -> str:
    return f"http://{daemon.settings.http}"


def test_member_serves_readiness_and_ownership(daemon: Daemon, zk: KazooClient) -> None:
    PartitionRegistry(zk, "t").add(STORE, "store")
    daemon.start()
    with httpx.Client(base_url=_base(daemon), timeout=10) as http:
        ready = http.get("/readyz").json()
        assert {k: ready[k] for k in ("ready", "zookeeper", "redis", "draining")} == {
            "ready": True,
            "zookeeper": True,
            "redis": True,
            "draining": False,
        }
        assert ready["max_partitions"] == daemon.settings.max_partitions
        assert ready["overloaded"] is False  # one store: its ticks never wait long

        def owned() -> bool:
            return [p["owner"] for p in http.get("/v1/partitions").json()] == ["m1"]

        wait_for(owned, 15, "m1 owns the store, as /v1/partitions shows")
        (row,) = http.get("/v1/partitions").json()
        assert (row["kind"], row["zone"]) == ("store", "a")
        assert row["epoch"] > 0
        assert http.get("/readyz").json()["partitions"] == 1
        members = http.get("/v1/members").json()
        assert [(m["member"], m["partitions"], m["draining"]) for m in members] == [
            ("m1", 1, False)
        ]
    assert daemon.stop(graceful=True)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{_base(daemon)}/healthz", timeout=2)


def test_waiting_associates_of_a_batch_store_are_served_by_its_tick(
    daemon: Daemon, zk: KazooClient, rds: redis.Redis, namespace: str
) -> None:
    PartitionRegistry(zk, "t").add(STORE, "store", {"batch": True})
    daemon.start()
    mark = f"{namespace}:{{{STORE}}}:work:batch"
    wait_for(lambda: rds.exists(mark) == 1, 15, "the owner marked the store as batch mode")
    answers: dict[str, httpx.Response] = {}
    with httpx.Client(base_url=_base(daemon), timeout=30) as http:
        for i in range(2):
            http.post("/v1/work", json={"id": f"w{i}", "store": STORE, "role": "picker"})
            body = {"id": f"a{i}", "home_store": STORE, "roles": ["picker"]}
            assert http.put(f"/v1/associates/a{i}", json=body).status_code == 200

        def ask(aid: str) -> None:
            answers[aid] = http.post(f"/v1/associates/{aid}/get-work", params={"wait": 8})

        askers = [threading.Thread(target=ask, args=(f"a{i}",)) for i in range(2)]
        for t in askers:
            t.start()
        for t in askers:
            t.join(20)
        assert {a: r.status_code for a, r in answers.items()} == {"a0": 200, "a1": 200}
        assert {r.json()["item"]["id"] for r in answers.values()} == {"w0", "w1"}
    # Both claims were made by the owner's tick, none first come, first served.
    assert rds.hget(f"{namespace}:{{{STORE}}}:work:stats", "batch_claims") == "2"
    assert rds.zcard(f"{namespace}:{{{STORE}}}:work:waiting") == 0


def test_a_taken_http_port_fails_the_start_before_joining(
    zk_hosts: str, redis_url: str, namespace: str, zk: KazooClient
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        d = Daemon(_settings(zk_hosts, redis_url, namespace, f"127.0.0.1:{port}"))
        with pytest.raises(ServerError, match="HTTP interface did not start"):
            d.start()
    assert d.member is None  # it never joined ZooKeeper, so it took no partition
    assert zk.exists("/jarvis/t/members") is None
    d.stop(graceful=False)


def test_readyz_turns_unready_when_a_drain_starts_before_ownership_is_released(
    daemon: Daemon, zk: KazooClient, rds: redis.Redis
) -> None:
    PartitionRegistry(zk, "t").add("paris", "city")
    daemon.start()
    view = ClusterView(zk, "t")
    wait_for(lambda: view.partitions()[0].owner == "m1", 15, "m1 owns paris")
    with httpx.Client(base_url=_base(daemon), timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        # Hold Redis writes for a while: the partition's tick (its commit) cannot finish,
        # so its release, which waits for the tick boundary, cannot happen yet.
        rds.client_pause(2000, all=False)
        stopper = threading.Thread(target=daemon.stop, kwargs={"graceful": True})
        stopper.start()
        wait_for(lambda: http.get("/readyz").status_code == 503, 5, "readyz says 503")
        assert http.get("/readyz").json()["draining"] is True
        still_owner = view.partitions()[0].owner
        stopper.join(30)
    assert still_owner == "m1", "readiness turned only after ownership was released"
    assert view.partitions()[0].owner is None
