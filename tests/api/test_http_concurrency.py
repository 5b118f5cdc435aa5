"""64 HTTP clients over 3 members (real ``jarvis run`` processes, each serving HTTP) and
10,000 items: none handed out twice, none lost, each class leaves in priority order."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jarvis.election import PartitionRegistry
from jarvis.models.work import WorkItem, may_take
from jarvis.store.work.rules import item_class
from jarvis.testing.cluster import LocalCluster
from jarvis.testing.servers import free_port
from tests.faults import wait_for
from tests.store.test_work_concurrency import STORES, _associates, _items

N_ITEMS = 10_000
N_CLIENTS = 64
EVENTS_PER_REQUEST = 1000

pytestmark = pytest.mark.slow


@pytest.fixture
def members() -> Iterator[list[str]]:
    """Three members, each serving HTTP; the four stores registered. Their base URLs."""
    with LocalCluster(tick=0.5, log_level="WARNING") as cluster:
        urls = []
        for i in range(3):
            listen = f"127.0.0.1:{free_port()}"
            cluster.member_env["JARVIS_HTTP"] = listen  # read when the member starts
            cluster.start_member(f"m{i}", f"z{i}")
            urls.append(f"http://{listen}")
        registry = PartitionRegistry(cluster.admin, cluster.cluster)
        for store in STORES:
            registry.add(store, "store")
        try:
            yield urls
        except BaseException:
            for name, tail in cluster.logs():
                print(f"--- {name}\n{tail}")
            raise


def _counts(http: httpx.Client) -> dict[str, dict[str, int]]:
    return {
        s: http.get(f"/v1/stores/{s}/queue", params={"limit": 1}).json()["counts"] for s in STORES
    }


def test_64_http_clients_over_3_members_none_twice_none_lost_in_priority_order(
    members: list[str],
) -> None:
    rng = random.Random(7)
    items = _items(N_ITEMS, rng)
    by_id = {i.id: i for i in items}
    people = _associates(N_CLIENTS, rng)
    clients = [httpx.Client(base_url=members[i % 3], timeout=60) for i in range(N_CLIENTS)]
    try:
        for person, http in zip(people, clients, strict=True):
            body = person.model_dump(mode="json")
            assert http.put(f"/v1/associates/{person.id}", json=body).status_code == 200
        for start in range(0, N_ITEMS, EVENTS_PER_REQUEST):
            events = [
                {
                    "id": f"e-{item.id}",
                    "partition": item.store,
                    "at": 1.0,
                    "type": "work_submitted",
                    "item": item.model_dump(mode="json"),
                }
                for item in items[start : start + EVENTS_PER_REQUEST]
            ]
            http = clients[start // EVENTS_PER_REQUEST % 3]
            assert http.post("/v1/events", json={"events": events}).status_code == 202

        def all_queued() -> bool:
            return sum(c["queued"] for c in _counts(clients[0]).values()) == N_ITEMS

        wait_for(all_queued, 60, "the store owners queued every submitted item")
        claims = _run(people, clients)
    finally:
        for http in clients:
            http.close()

    # Zero items handed out twice; every item handed out and done; conserved.
    ids = [c["item"]["id"] for c in claims]
    assert len(ids) == len(set(ids)) == N_ITEMS
    with httpx.Client(base_url=members[0]) as http:
        final = _counts(http)
    for store, n in final.items():
        assert (n["queued"], n["claimed"], n["done"]) == (0, 0, n["submitted"]), store
    for c in claims:  # handed out as submitted (enqueue only stamps created_at)
        item = WorkItem.model_validate(c["item"]).model_copy(update={"created_at": 0.0})
        assert item == by_id[item.id]

    # Eligibility, and within each class of a store, priority order (tokens order a
    # store's claims, whichever member served them).
    people_by_id = {p.id: p for p in people}
    leaving: dict[tuple[str, object], list[dict[str, Any]]] = defaultdict(list)
    for c in claims:
        item = by_id[c["item"]["id"]]
        assert may_take(people_by_id[c["associate"]], item) is None
        leaving[(c["store"], item_class(item))].append(c)
    for sequence in leaving.values():
        sequence.sort(key=lambda c: c["token"])
        order = [(c["start_by"], c["item"]["id"]) for c in sequence]
        assert order == sorted(order)


def _run(people: list[Any], clients: list[httpx.Client]) -> list[dict[str, Any]]:
    """Each associate gets and completes work until there is none for them; a checker
    asserts conservation while they run. Returns every claim."""
    claims: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()
    checks = [0]

    def work(person: Any, http: httpx.Client) -> None:
        mine = []
        try:
            while True:
                got = http.post(f"/v1/associates/{person.id}/get-work")
                if got.status_code == 204:
                    break  # nothing they may take is queued (no new work arrives)
                assert got.status_code == 200, got.text
                claim = got.json()
                mine.append(claim)
                holder = {"associate": person.id, "token": claim["token"]}
                url = f"/v1/stores/{claim['store']}/work/{claim['item']['id']}/complete"
                done = http.post(url, json=holder)
                assert done.status_code == 200, done.text
        except BaseException as exc:
            errors.append(exc)
        with lock:
            claims.extend(mine)

    def check() -> None:
        with httpx.Client(base_url=str(clients[1].base_url), timeout=60) as http:
            while not stop.wait(0.2):
                for store, c in _counts(http).items():
                    if c["queued"] + c["claimed"] + c["done"] != c["submitted"]:
                        errors.append(AssertionError(f"{store} not conserved: {c}"))
                checks[0] += 1

    threads = [
        threading.Thread(target=work, args=(p, h)) for p, h in zip(people, clients, strict=True)
    ]
    checker = threading.Thread(target=check)
    checker.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    stop.set()
    checker.join(30)
    assert not errors, errors[0]
    assert not any(t.is_alive() for t in threads), "a client never finished"
    assert checks[0] > 0
    return claims
