"""A courier's stop order in Redis: written by the fenced commit with the assignment,
checked against what the courier holds, followed by the snapshot and the courier view."""

from __future__ import annotations

import orjson
import redis

from jarvis.models import CityConfig, decide_city, plan
from jarvis.models.stops import stops_of
from jarvis.store.city import CityStore
from jarvis.store.city_commit import script_keys
from jarvis.store.replies import text
from jarvis.store.specs import CITY_COMMIT, Arg
from tests.store.builders import courier, dump, event, order
from tests.store.test_city_flow import CITY, EPOCH, feed

P, D = True, False


def _held_stops(store: CityStore, courier_id: str) -> tuple[tuple[str, bool], ...]:
    snapshot = store.snapshot()
    return stops_of(snapshot.held[courier_id])


def _setup(rds: redis.Redis, namespace: str) -> CityStore:
    store = feed(
        rds,
        namespace,
        *(event(CITY, "order_created", order=order(f"o{i}", 1000.0 + i)) for i in range(1, 5)),
        event(CITY, "courier_online", courier=courier("c1", capacity=4)),
        event(CITY, "courier_online", courier=courier("c2", capacity=2)),
    )
    route = (("o1", P), ("o1", D))
    assert store.commit(EPOCH, 1, [("o1", "c1")], 2000.0, routes={"c1": route}).accepted
    feed(rds, namespace, event(CITY, "order_picked_up", order_id="o1"))
    return store


def test_the_stored_stop_order_is_what_the_snapshot_and_the_courier_view_ride(
    rds: redis.Redis, namespace: str
) -> None:
    store = _setup(rds, namespace)
    # o2's pickup and drop-off before the drop-off of o1 the courier carries
    route = (("o2", P), ("o2", D), ("o1", D))
    assert store.commit(EPOCH, 2, [("o2", "c1")], 2001.0, routes={"c1": route}).accepted
    assert rds.hget(store.keys.courier_routes, "c1") == "+o2 -o2 -o1"
    assert _held_stops(store, "c1") == route
    view = store.courier_orders("c1")
    assert view is not None
    assert [(h.order.id, h.status, h.pickup_stop, h.dropoff_stop) for h in view] == [
        ("o2", "assigned", 0, 1),
        ("o1", "picked_up", None, 2),
    ]
    # the same stop order again, with a new order last: stored as given
    longer = (*route, ("o3", P), ("o3", D))
    assert store.commit(EPOCH, 3, [("o3", "c1")], 2002.0, routes={"c1": longer}).accepted
    assert _held_stops(store, "c1") == longer
    # a commit without a stop order keeps the stored one and puts the new order last
    assert store.commit(EPOCH, 4, [("o4", "c1")], 2003.0).accepted
    assert rds.hget(store.keys.courier_routes, "c1") == "+o2 -o2 -o1 +o3 -o3 +o4 -o4"
    # a delivered order drops out of the plan without a write
    feed(rds, namespace, event(CITY, "order_delivered", order_id="o2"))
    held = store.snapshot().held
    assert [(o.id, up) for o, up in plan(held["c1"])] == [*longer[2:], ("o4", P), ("o4", D)]


def test_a_stop_order_that_disagrees_with_what_the_courier_holds_changes_nothing(
    rds: redis.Redis, namespace: str
) -> None:
    store = _setup(rds, namespace)
    before = dump(rds, namespace)
    cases = {
        "route of courier c1: -o2 comes before its pickup": (("o2", D), ("o2", P), ("o1", D)),
        "route of courier c1: -o1 is missing": (("o2", P), ("o2", D)),
        "route of courier c1: +o3 is not a stop of an order it holds": (
            ("o2", P), ("o3", P), ("o2", D), ("o1", D),
        ),
        "route of courier c1: +o1 is after its drop-off": (
            ("o2", P), ("o2", D), ("o1", D), ("o1", P),
        ),
        "route of courier c1: -o2 appears twice": (("o2", P), ("o2", D), ("o2", D), ("o1", D)),
    }  # fmt: skip
    for reason, route in cases.items():
        result = store.commit(EPOCH, 2, [("o2", "c1")], 2001.0, routes={"c1": route})
        assert result.conflicts == (reason,)
    after = dump(rds, namespace)
    stats = after.pop(store.keys.stats)
    assert stats == {**before.pop(store.keys.stats), "conflicts": str(len(cases))}
    assert after == before
    # the pickup of an order already picked up is a stop made: kept, and skipped
    done = (("o1", P), ("o2", P), ("o2", D), ("o1", D))
    assert store.commit(EPOCH, 2, [("o2", "c1")], 2001.0, routes={"c1": done}).accepted
    assert _held_stops(store, "c1") == done[1:]


def test_the_script_refuses_a_stop_order_given_twice_or_for_a_courier_it_gives_no_order(
    rds: redis.Redis, namespace: str
) -> None:
    # CityStore.commit never sends such stop orders; the script refuses them anyway
    store = _setup(rds, namespace)
    before = dump(rds, namespace)
    route = "+o2 -o2 -o1"
    cases = {
        "courier c2 has a route but gets no order": ["c1", route, "c2", "+o3 -o3"],
        "courier c1 has two routes in the commit": ["c1", route, "c1", route],
    }
    for reason, routes in cases.items():
        args: dict[str, Arg] = {"tick": 2, "now": 2001.0, "partition": CITY, "out_maxlen": 1000,
                "offer_ms": 0, "max_moves": 0, "pairs": orjson.dumps(["o2", "c1", ""]).decode(),
                "routes": orjson.dumps(routes).decode()}  # fmt: skip
        reply = store.scripts.run(CITY_COMMIT, CITY, script_keys(store.keys), args, epoch=EPOCH)
        assert [int(reply[0]), *(text(r) for r in reply[1:])] == [0, reason]
    after = dump(rds, namespace)
    stats = after.pop(store.keys.stats)
    assert stats == {**before.pop(store.keys.stats), "conflicts": str(len(cases))}
    assert after == before


def test_a_move_leaves_the_old_stop_order_and_joins_the_new_one_where_it_was_priced(
    rds: redis.Redis, namespace: str
) -> None:
    store = _setup(rds, namespace)
    routes = {"c1": (("o1", D), ("o2", P), ("o2", D)), "c2": (("o3", P), ("o3", D))}
    assert store.commit(EPOCH, 2, [("o2", "c1"), ("o3", "c2")], 2001.0, routes=routes).accepted
    to_c2 = (("o2", P), ("o3", P), ("o3", D), ("o2", D))
    move = [("o2", "c2", "c1")]
    assert store.commit(
        EPOCH, 3, [], 2002.0, moves=move, max_moves=1, routes={"c2": to_c2}
    ).accepted
    assert rds.hget(store.keys.courier_routes, "c1") == "-o1"
    assert rds.hget(store.keys.courier_routes, "c2") == "+o2 +o3 -o3 -o2"
    # the snapshot shows only couriers with room: c2 is full, c1 holds o1
    assert _held_stops(store, "c1") == (("o1", D),)
    view = store.courier_orders("c2")
    assert view is not None
    assert [(h.order.id, h.pickup_stop, h.dropoff_stop) for h in view] == [
        ("o2", 0, 3),
        ("o3", 1, 2),
    ]


def test_a_decision_over_the_snapshot_commits_its_planned_routes(
    rds: redis.Redis, namespace: str
) -> None:
    store = _setup(rds, namespace)
    snapshot = store.snapshot()
    decision = decide_city(
        snapshot.orders, snapshot.couriers, 2001.0, CityConfig(), held=snapshot.held
    )
    assert decision.routes
    pairs = [(a.task, a.worker) for a in decision.assignments]
    assert store.commit(EPOCH, 2, pairs, 2001.0, routes=decision.routes).accepted
    after = store.snapshot().held
    for courier_id, stops in decision.routes.items():
        if courier_id in after:
            assert stops_of(after[courier_id]) == stops
        stored = rds.hget(store.keys.courier_routes, courier_id)
        assert stored == " ".join(("+" if up else "-") + o for o, up in stops)
