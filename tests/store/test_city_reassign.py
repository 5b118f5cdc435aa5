"""Reassignment in Redis: a move is fenced and checked in the commit script, counted per
order and recorded as a reassignment; the checker accepts it in that form."""

from __future__ import annotations

import time

import redis

from jarvis.testing.checker import check_cluster
from tests.store.builders import courier, event, order
from tests.store.test_city_flow import CITY, EPOCH, feed, free_slots


def test_a_move_frees_the_old_courier_and_counts_against_the_order(
    rds: redis.Redis, namespace: str
) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "order_created", order=order("o2", created_at=1002.0)),
        event(CITY, "courier_online", courier=courier("c1")),
        event(CITY, "courier_online", courier=courier("c2")),
        event(CITY, "courier_online", courier=courier("c3")),
    )
    assert store.commit(EPOCH, 1, [("o1", "c1"), ("o2", "c3")], 2000.0).accepted
    (movable, other) = sorted(store.snapshot(movable=True).movable, key=lambda m: m.order.id)
    assert (movable.order.id, movable.courier.id, movable.moves) == ("o1", "c1", 0)
    assert [h.order.id for h in movable.held] == ["o1"]
    assert other.order.id == "o2"
    assert store.commit(EPOCH, 2, [], 2001.0, moves=[("o1", "c2", "c1")], max_moves=1).accepted
    assert free_slots(store.snapshot()) == {"c1": 1}
    moves = [
        (d.task, d.worker, d.from_worker) for d in store.decisions() if d.type == "reassignment"
    ]
    assert moves == [("o1", "c2", "c1")]
    assert store.stats()["reassigned"] == "1"
    (movable,) = [m for m in store.snapshot(movable=True).movable if m.order.id == "o1"]
    assert (movable.courier.id, movable.moves) == ("c2", 1)

    # the order was moved max_moves times already; a wrong source; an own courier
    refused = [
        store.commit(EPOCH, 3, [], 2002.0, moves=[("o1", "c1", "c2")], max_moves=1),
        store.commit(EPOCH, 3, [], 2002.0, moves=[("o1", "c1", "c3")], max_moves=5),
        store.commit(EPOCH, 3, [], 2002.0, moves=[("o1", "c2", "c2")], max_moves=5),
    ]
    assert [r.conflicts for r in refused] == [
        ("order o1 was reassigned 1 times",),
        ("order o1 is no longer assigned to c3",),
        ("order o1 cannot be reassigned to its courier", "courier c2 is full (1/1)"),
    ]
    # a picked-up order stays where it is; no move to a full courier
    feed(rds, namespace, event(CITY, "order_picked_up", order_id="o2"))
    picked = store.commit(EPOCH, 3, [], 2002.0, moves=[("o2", "c1", "c3")], max_moves=5)
    assert picked.conflicts == ("order o2 is no longer assigned to c3",)
    full = store.commit(EPOCH, 3, [], 2002.0, moves=[("o1", "c3", "c2")], max_moves=5)
    assert full.conflicts == ("courier c3 is full (1/1)",)

    report = check_cluster(rds, [CITY], namespace)
    assert report.safe, report.partitions[CITY]
    assert report.partitions[CITY].reassignments == 1


def test_in_acceptance_mode_only_an_accepted_order_moves_and_as_an_offer(
    rds: redis.Redis, namespace: str
) -> None:
    store = feed(
        rds,
        namespace,
        event(CITY, "order_created", order=order("o1", created_at=1001.0)),
        event(CITY, "order_created", order=order("o2", created_at=1002.0)),
        event(CITY, "courier_online", courier=courier("c1")),
        event(CITY, "courier_online", courier=courier("c2")),
        event(CITY, "courier_online", courier=courier("c3", capacity=2)),
    )
    offer_s = 600.0
    t = float(int(time.time()))  # offers also expire by the stream times of events
    pairs = [("o1", "c1"), ("o2", "c2")]
    assert store.commit(EPOCH, 1, pairs, t, offer_timeout_s=offer_s).accepted
    # an outstanding offer is never reassigned, and is not movable
    assert store.snapshot(movable=True).movable == ()
    early = store.commit(
        EPOCH, 2, [], t + 1, offer_timeout_s=offer_s, moves=[("o1", "c3", "c1")], max_moves=2
    )
    assert early.conflicts == ("order o1 is no longer assigned to c1",)
    # accepted, it may move: the new courier gets an offer, the old one is free at once
    feed(
        rds,
        namespace,
        event(CITY, "offer_accepted", order_id="o1", courier_id="c1"),
        event(CITY, "offer_accepted", order_id="o2", courier_id="c2"),
    )
    assert sorted(m.order.id for m in store.snapshot(movable=True).movable) == ["o1", "o2"]
    moves = [("o1", "c3", "c1"), ("o2", "c3", "c2")]
    assert store.commit(
        EPOCH, 2, [], t + 2, offer_timeout_s=offer_s, moves=moves, max_moves=2
    ).accepted
    assert free_slots(store.snapshot()) == {"c1": 1, "c2": 1}
    view = store.courier_orders("c3")
    assert view is not None
    assert [(h.order.id, h.status, h.expires_at) for h in view] == [
        ("o1", "offered", t + 2 + offer_s),
        ("o2", "offered", t + 2 + offer_s),
    ]
    moved = [d for d in store.decisions() if d.type == "reassignment"]
    assert [(d.task, d.worker, d.from_worker, d.expires_at) for d in moved] == [
        ("o1", "c3", "c1", t + 2 + offer_s),
        ("o2", "c3", "c2", t + 2 + offer_s),
    ]
    # the new courier accepts one; the other offer expires and returns to the pool
    feed(rds, namespace, event(CITY, "offer_accepted", order_id="o1", courier_id="c3"))
    assert store.apply_events(EPOCH, now=t + 2 + offer_s + 1).applied == 0
    view = store.courier_orders("c3")
    assert view is not None
    assert [(h.order.id, h.status) for h in view] == [("o1", "assigned")]
    assert [o.id for o in store.snapshot().orders] == ["o2"]
    report = check_cluster(rds, [CITY], namespace)
    assert report.safe, report.partitions[CITY]
    assert report.partitions[CITY].reassignments == 2
