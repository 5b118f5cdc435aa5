"""Acceptance mode in Redis: an assignment is an offer until the courier accepts it, and
an unanswered offer expires; the checker reads the whole history back."""

from __future__ import annotations

import time

import redis

from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from jarvis.testing.checker import check_cluster
from tests.store.builders import courier, event, order
from tests.store.test_city_flow import CITY, EPOCH, feed, free_slots, open_ids

OFFER_S = 30.0


def _now() -> float:
    """A whole second of real time: offers also expire by the stream times of events."""
    return float(int(time.time()))


def _history(store: CityStore) -> list[tuple[str, str, str, str]]:
    return [
        (d.type, d.task or "", d.worker or "", d.reason or "")
        for d in store.decisions()
        if d.type != "tick"
    ]


def _setup(rds: redis.Redis, namespace: str) -> CityStore:
    return feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "courier_online", courier=courier("c1")),
        event(CITY, "courier_online", courier=courier("c2")),
    )


def test_an_offer_holds_the_slot_until_accepted_and_then_never_expires(
    rds: redis.Redis, namespace: str
) -> None:
    store = _setup(rds, namespace)
    t = _now()
    assert store.commit(EPOCH, 1, [("o1", "c1")], t, offer_timeout_s=OFFER_S).accepted
    (offer,) = [d for d in store.decisions() if d.type == "offer"]
    assert (offer.task, offer.worker, offer.expires_at) == ("o1", "c1", t + OFFER_S)
    snap = store.snapshot()
    assert open_ids(snap) == []
    assert free_slots(snap) == {"c2": 1}
    # only the courier it is offered to may accept it, and only once it is accepted
    # may it be picked up
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "offer_accepted", order_id="o1", courier_id="c2"),
            event(CITY, "order_picked_up", order_id="o1"),
        ]
    )
    assert store.apply_events(EPOCH, now=t + 1).dead_lettered == 2
    assert [d["reason"] for d in store.dead_letters()] == [
        "order o1 is not offered to courier c2",
        "order o1 is offered",
    ]
    accept = event(CITY, "offer_accepted", order_id="o1", courier_id="c1")
    feed(rds, namespace, accept)
    Producer(rds, namespace).submit_many([accept])
    again = store.apply_events(EPOCH, now=t + 2)
    assert (again.applied, again.duplicates, again.dead_lettered) == (0, 1, 0)
    # long past its expiry it stays assigned: accepted offers do not expire
    store.apply_events(EPOCH, now=t + 10 * OFFER_S)
    feed(rds, namespace, event(CITY, "order_picked_up", order_id="o1"))
    assert _history(store) == [("offer", "o1", "c1", ""), ("accepted", "o1", "c1", "")]
    assert open_ids(store.snapshot()) == []
    report = check_cluster(rds, [CITY], namespace)
    assert report.safe, report.partitions[CITY]


def test_an_unanswered_offer_expires_reopens_the_order_and_cools_the_courier_down(
    rds: redis.Redis, namespace: str
) -> None:
    store = _setup(rds, namespace)
    t = _now()
    assert store.commit(EPOCH, 1, [("o1", "c1")], t, offer_timeout_s=OFFER_S).accepted
    store.apply_events(EPOCH, now=t + OFFER_S - 0.1)
    assert open_ids(store.snapshot()) == []
    store.apply_events(EPOCH, now=t + OFFER_S)
    snap = store.snapshot()
    assert open_ids(snap) == ["o1"]
    assert free_slots(snap) == {"c1": 1, "c2": 1}
    assert snap.declines == (("o1", "c1", t + OFFER_S),)
    assert _history(store) == [("offer", "o1", "c1", ""), ("unassigned", "o1", "c1", "expired")]
    # an acceptance after the expiry is refused; the order can be offered again
    Producer(rds, namespace).submit_many(
        [event(CITY, "offer_accepted", order_id="o1", courier_id="c1")]
    )
    assert store.apply_events(EPOCH, now=t + OFFER_S + 1).dead_lettered == 1
    assert store.dead_letters()[-1]["reason"] == "order o1 is not offered"
    assert store.commit(EPOCH, 2, [("o1", "c2")], t + OFFER_S + 2, offer_timeout_s=OFFER_S).accepted
    # a decline of an offer reopens it at once
    feed(rds, namespace, event(CITY, "order_declined", order_id="o1", courier_id="c2"))
    assert open_ids(store.snapshot()) == ["o1"]
    assert _history(store)[2:] == [
        ("offer", "o1", "c2", ""),
        ("unassigned", "o1", "c2", "declined"),
    ]
    report = check_cluster(rds, [CITY], namespace)
    assert report.safe, report.partitions[CITY]
    assert report.partitions[CITY].assignments == 2


def test_offers_expire_before_the_events_that_come_after_their_expiry(
    rds: redis.Redis, namespace: str
) -> None:
    store = _setup(rds, namespace)
    # an offer whose expiry lies before the stream time of any event appended now: the
    # acceptance arrives too late even without a clock from the owner
    t = _now() - 10
    assert store.commit(EPOCH, 1, [("o1", "c1")], t, offer_timeout_s=1.0).accepted
    Producer(rds, namespace).submit_many(
        [event(CITY, "offer_accepted", order_id="o1", courier_id="c1")]
    )
    assert store.apply_events(EPOCH).dead_lettered == 1
    assert open_ids(store.snapshot()) == ["o1"]


def test_offers_expire_between_the_events_of_one_batch_in_stream_time(
    rds: redis.Redis, namespace: str
) -> None:
    store = _setup(rds, namespace)
    Producer(rds, namespace).submit(
        event(CITY, "order_created", order=order("o2", created_at=1002.0))
    )
    store.apply_events(EPOCH)
    # two offers due at t + 30 s; one batch whose entries lie 10 s and 60 s after t
    t = _now() + 100
    assert store.commit(EPOCH, 1, [("o1", "c1"), ("o2", "c2")], t, offer_timeout_s=OFFER_S).accepted
    stream = store.keys.events_in
    for seconds, oid, cid in ((10, "o1", "c1"), (60, "o2", "c2")):
        accepted = event(CITY, "offer_accepted", order_id=oid, courier_id=cid)
        rds.xadd(stream, {"event": accepted.model_dump_json()}, id=f"{int((t + seconds) * 1000)}-0")
    result = store.apply_events(EPOCH)
    assert (result.applied, result.dead_lettered) == (1, 1)
    assert "order o2 is not offered" in store.dead_letters()[0]["reason"]
    assert open_ids(store.snapshot()) == ["o2"]
    assert ("unassigned", "o2", "c2", "expired") in _history(store)
    assert ("accepted", "o1", "c1", "") in _history(store)
