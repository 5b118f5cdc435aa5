"""Property tests of the batched event apply (``work_apply.lua``, ``city_apply.lua``) on
real Redis: for random event sequences, one batch ends in exactly the state the same
events applied one by one give, and applying the applied events again changes nothing.
The batch goes as one script call or as a chain of calls of a few entries each
(``chain_size``): every chain ends as one by one too.

Every entry is appended with an explicit stream id (the same in both namespaces), so
the scores derived from stream ids (applied ids, closed orders, declines, offers) and
the incoming streams are compared too. What is left out of the comparison, and why:

- the ids of the entries of the dead-letter and out streams: the scripts add them with
  ``*`` (Redis' clock at the call), so they differ between any two runs; their fields
  (partition, stream id, reason, raw event, epoch; the decisions' fields) are compared;
- nothing else: every other key of both namespaces is compared whole (hashes as sorted
  pairs, sorted sets with their scores), stats counters included.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jarvis.errors import StoreError
from jarvis.models.events import Event
from jarvis.models.work import Associate, WorkItem
from jarvis.store.city import CityStore
from jarvis.store.city_apply import CHAIN_SIZE
from jarvis.store.keys import PartitionKeys
from jarvis.store.replies import stream_entries, text
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue
from tests.store.builders import courier, dump, event, order

STORE = "s1"
CITY = "lyon"
NOW = 1_700_000_000.0
#: The first stream ms of the generated events (what was set up before uses 1, 2, ...).
FIRST_MS = 1000

# Bounded: each example applies its events 1 + n times in two namespaces, and the
# store suite runs on standalone Redis and on Redis Cluster. Derandomized: the same
# examples on every run, so CI is not flaky; deadline None (a loaded machine).
#: Entries per script call of the batched apply: the default (one call for these short
#: batches), or chains of calls pipelined on one connection (ScriptRunner.run_chain).
CHAINS = st.sampled_from([CHAIN_SIZE, 3, 1])

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_namespaces = itertools.count(1)


@contextmanager
def _namespaces_of(rds: redis.Redis, namespace: str) -> Iterator[tuple[str, str]]:
    """Two fresh namespaces for one example (one by one, batched), deleted after it."""
    n = next(_namespaces)
    pair = (f"{namespace}p{n}a", f"{namespace}p{n}b")
    try:
        yield pair
    finally:
        for ns in pair:
            for key in rds.scan_iter(match=f"{ns}:*", count=1000):
                rds.delete(key)


def _append(rds: redis.Redis, stream: str, raws: list[bytes], first_ms: int) -> None:
    """Append ``raws`` to ``stream`` at stream ids ``first_ms-0``, ``first_ms+1-0``, ..."""
    for n, raw in enumerate(raws):
        rds.xadd(stream, {"event": raw}, id=f"{first_ms + n}-0")


def _append_retry(rds: redis.Redis, stream: str, raws: list[bytes], ms: int) -> None:
    """Append ``raws`` to ``stream`` at ``ms-1``, ``ms-2``, ...: a producer's retry in
    the millisecond of the last entry, so that no stream time passes (an offer due
    later would legitimately expire at a later entry, duplicate or not)."""
    for n, raw in enumerate(raws):
        rds.xadd(stream, {"event": raw}, id=f"{ms}-{n + 1}")


def _state(rds: redis.Redis, namespace: str, partition: str) -> dict[str, Any]:
    """Every key of ``namespace`` (the namespace taken out of keys and values), hashes as
    sorted pairs, streams written by the scripts as their entries' fields only."""
    keys = PartitionKeys(partition, namespace)
    by_script = (keys.dead_letter, keys.decisions_out)
    out: dict[str, Any] = {}
    for key, value in dump(rds, namespace).items():
        if key in by_script:
            value = [fields for _, fields in stream_entries(value)]
        elif isinstance(value, dict):
            value = sorted(value.items())
        out[key[len(namespace) :]] = repr(value).replace(namespace, "NS")
    return out


def _replayed(rds: redis.Redis, namespace: str, partition: str, raws: list[bytes]) -> list[bytes]:
    """The first entry of each event id the namespace recorded as applied, in order."""
    applied = {
        text(m) for m in rds.zrange(PartitionKeys(partition, namespace).applied_events, 0, -1)
    }
    out, seen = [], set()
    for raw in raws:
        event_id = orjson.loads(raw)["id"]
        if event_id in applied and event_id not in seen:
            seen.add(event_id)
            out.append(raw)
    return out


def _without(state: dict[str, Any], namespace: str, partition: str, *keys: str) -> dict[str, Any]:
    k = PartitionKeys(partition, namespace)
    skip = {getattr(k, name)[len(namespace) :] for name in keys}
    return {key: value for key, value in state.items() if key not in skip}


# -- a store's events -----------------------------------------------------------------

ITEM_IDS = ("w0", "w1", "w2", "q0", "q1", "c0", "gone", "zz")
#: Drawn ids, the first ones more often, so that one item sees several events.
_ITEM_DRAWS = ("w0", "w0", "w0", "q0", "q0", *ITEM_IDS)


@st.composite
def work_events(draw: st.DrawFn) -> list[bytes]:
    """A sequence of a store's events (raw JSON, as the stream holds them): submissions
    (several classes, re-submissions), updates, cancels and completions of new items,
    of items queued or claimed before, of a cancelled one and of unknown ids, replays
    of earlier events (same id), and an event of a type that does not apply to a store."""
    raws: list[bytes] = []
    for n in range(draw(st.integers(1, 14))):
        kind = draw(
            st.sampled_from(
                [
                    "submit",
                    "submit",
                    "update",
                    "update",
                    "cancel",
                    "complete",
                    "replay",
                    "replay",
                    "other",
                ]
            )
        )
        item_id = draw(st.sampled_from(_ITEM_DRAWS))
        eid = f"e{n}"
        e: Event
        if kind == "replay" and raws:
            raws.append(draw(st.sampled_from(raws)))
            continue
        if kind in ("submit", "replay"):
            item = WorkItem(
                id=item_id,
                store=STORE,
                role=draw(st.sampled_from(["picker", "packer"])),
                remotable=draw(st.booleans()),
                priority=draw(st.sampled_from([0, 5, 40, 90])),
                created_at=draw(st.sampled_from([0.0, NOW - 100])),
            )
            e = event(STORE, "work_submitted", eid, item=item)
        elif kind == "update":
            changes = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "priority": st.sampled_from([1, 30, 99]),
                        "due_at": st.sampled_from([NOW + 60, NOW + 3600]),
                        "duration_s": st.sampled_from([30.0, 900.0]),
                    },
                ).filter(bool)
            )
            e = event(STORE, "work_updated", eid, item_id=item_id, **changes)
        elif kind == "cancel":
            e = event(STORE, "work_cancelled", eid, item_id=item_id)
        elif kind == "complete":
            associate = draw(st.sampled_from(["a1", "a2"]))
            e = event(STORE, "work_completed", eid, item_id=item_id, associate_id=associate)
        else:
            e = event(STORE, "order_cancelled", eid, order_id=item_id)
        raws.append(e.model_dump_json().encode())
    return raws


def _store_before(rds: redis.Redis, ns: str) -> WorkQueue:
    """Queued q0 (picker) and q1 (packer), c0 claimed by a1, 'gone' cancelled long enough
    ago that it left the done set (not the cancelled one)."""
    queue = WorkQueue(rds, ns, clock=lambda: NOW - 10)
    roles = frozenset({"picker", "packer"})
    queue.register_associate(Associate(id="a1", home_store=STORE, roles=roles))
    queue.enqueue(WorkItem(id="c0", store=STORE, role="picker", priority=60))
    assert queue.get_work("a1") is not None
    queue.enqueue(WorkItem(id="q0", store=STORE, role="picker", priority=20))
    queue.enqueue(WorkItem(id="q1", store=STORE, role="packer", priority=50))
    rds.zadd(WorkKeys(STORE, ns).cancelled, {"gone": NOW - 5})
    return WorkQueue(rds, ns, clock=lambda: NOW)


def _claimed(queue: WorkQueue) -> list[str]:
    """The item ids a1 gets, one get-work after another, until none is left."""
    out: list[str] = []
    for _ in range(len(ITEM_IDS) + 1):
        claim = queue.get_work("a1")
        if claim is None:
            return out
        out.append(claim.item.id)
    raise AssertionError(f"get-work never ran dry: {out}")


def _raw(kind: str, event_id: str, **fields: Any) -> bytes:
    return event(STORE, kind, event_id, **fields).model_dump_json().encode()


#: Found by this test: the retry of an update (u1 again) made the owner follow the item
#: as if u1 applied again, so u3's JSON no longer matched and the batch dead-lettered it.
_UPDATE_RETRIED = [
    _raw("work_updated", "u1", item_id="q0", priority=30),
    _raw("work_updated", "u2", item_id="q0", priority=99),
    _raw("work_updated", "u1", item_id="q0", priority=30),
    _raw("work_updated", "u3", item_id="q0", due_at=NOW + 60),
]
#: An update of an item not there yet is dead-lettered; its retry, after the item's
#: submission, applies (one by one as in a batch), and so does the update after it.
_UPDATE_BEFORE_SUBMIT = [
    _raw("work_updated", "u1", item_id="w0", priority=30),
    _raw("work_submitted", "s1", item=WorkItem(id="w0", store=STORE, role="picker")),
    _raw("work_updated", "u1", item_id="w0", priority=30),
    _raw("work_updated", "u2", item_id="w0", duration_s=60.0),
]


@PROPERTY
@given(raws=work_events(), chain=CHAINS)
@example(raws=_UPDATE_RETRIED, chain=CHAIN_SIZE)
@example(raws=_UPDATE_BEFORE_SUBMIT, chain=2)
def test_a_store_batch_ends_as_its_events_applied_one_by_one(
    rds: redis.Redis, namespace: str, raws: list[bytes], chain: int
) -> None:
    with _namespaces_of(rds, namespace) as (alone, batched):
        queues = {ns: _store_before(rds, ns) for ns in (alone, batched)}
        for ns in (alone, batched):
            _append(rds, PartitionKeys(STORE, ns).events_in, raws, FIRST_MS)
        one_by_one = WorkEvents(queues[alone])
        totals = [0, 0, 0]
        for _ in raws:
            r = one_by_one.apply(STORE, 1, max_events=1)
            totals = [totals[0] + r.applied, totals[1] + r.duplicates, totals[2] + r.dead_lettered]
        whole = WorkEvents(queues[batched], chain_size=chain).apply(STORE, 1)
        assert [whole.applied, whole.duplicates, whole.dead_lettered] == totals
        state = _state(rds, batched, STORE)
        assert state == _state(rds, alone, STORE)

        # applying the applied events again (a producer's retry) changes nothing; the
        # dead-lettered ones are left out: they were not applied, so a retry may apply
        # them against the state the batch left (an item submitted after its update)
        again = _replayed(rds, batched, STORE, raws)
        _append_retry(rds, PartitionKeys(STORE, batched).events_in, again, FIRST_MS + len(raws) - 1)
        second = WorkEvents(queues[batched]).apply(STORE, 1)
        assert (second.applied, second.duplicates, second.dead_lettered) == (0, len(again), 0)
        skipped = ("events_in", "cursor", "stats")  # the new entries, and duplicates counted
        assert _without(_state(rds, batched, STORE), batched, STORE, *skipped) == _without(
            state, batched, STORE, *skipped
        )

        assert queues[batched].counts(STORE) == queues[alone].counts(STORE)
        assert _claimed(queues[batched]) == _claimed(queues[alone])


@PROPERTY
@given(raws=work_events(), at=st.integers(0, 14), chain=CHAINS)
def test_a_store_batch_failing_part_way_then_retried_ends_as_one_by_one(
    rds: redis.Redis, namespace: str, raws: list[bytes], at: int, chain: int
) -> None:
    """A batch whose script fails part-way (the claims hash made a string: the first
    event that reads a claim fails with WRONGTYPE) keeps and records what it applied
    before; retried once the claims are back, it ends as the events one by one."""
    raws = [*raws[:at], _raw("work_completed", "ef", item_id="c0", associate_id="a1"), *raws[at:]]
    with _namespaces_of(rds, namespace) as (alone, batched):
        queues = {ns: _store_before(rds, ns) for ns in (alone, batched)}
        for ns in (alone, batched):
            _append(rds, PartitionKeys(STORE, ns).events_in, raws, FIRST_MS)
        for _ in raws:
            WorkEvents(queues[alone]).apply(STORE, 1, max_events=1)
        claims = WorkKeys(STORE, batched).claims
        rds.rename(claims, f"{claims}-kept")
        rds.set(claims, "not a hash")
        with pytest.raises(StoreError, match="WRONGTYPE"):
            WorkEvents(queues[batched], chain_size=chain).apply(STORE, 1)
        rds.delete(claims)
        rds.rename(f"{claims}-kept", claims)
        WorkEvents(queues[batched], chain_size=chain).apply(STORE, 1)
        assert _state(rds, batched, STORE) == _state(rds, alone, STORE)


# -- a city's events ------------------------------------------------------------------

ORDER_IDS = ("o0", "o1", "p0", "p1", "zz")
COURIER_IDS = ("c0", "k0", "k1", "zz")
POSITIONS = ((48.85, 2.35), (48.86, 2.36), (45.75, 4.85))


@st.composite
def city_events(draw: st.DrawFn) -> list[bytes]:
    """A sequence of a city's events (raw JSON): new orders (also of an id that exists),
    couriers coming online (new or known, again), moves of known and unknown couriers,
    cancels, pick-ups, deliveries, declines and acceptances of orders open, assigned,
    offered or unknown, couriers going offline, replays of earlier events (same id), and
    an event of a type that does not apply to a city."""
    raws: list[bytes] = []
    for n in range(draw(st.integers(1, 14))):
        kind = draw(
            st.sampled_from(
                ["created", "online", "moved", "moved", "moved", "cancelled", "picked_up",
                 "delivered", "declined", "accepted", "offline", "replay", "other"]
            )
        )  # fmt: skip
        order_id = draw(st.sampled_from(ORDER_IDS))
        courier_id = draw(st.sampled_from(COURIER_IDS))
        lat, lon = draw(st.sampled_from(POSITIONS))
        eid = f"e{n}"
        e: Event
        if kind == "replay" and raws:
            raws.append(draw(st.sampled_from(raws)))
            continue
        if kind in ("created", "replay"):
            created = draw(st.sampled_from([900.0, 1000.0, 1100.0]))
            e = event(CITY, "order_created", eid, order=order(order_id, created))
        elif kind == "online":
            capacity = draw(st.integers(1, 2))
            e = event(CITY, "courier_online", eid, courier=courier(courier_id, capacity, lat, lon))
        elif kind == "moved":
            position = {"lat": lat, "lon": lon}
            e = event(CITY, "courier_moved", eid, courier_id=courier_id, position=position)
        elif kind == "cancelled":
            e = event(CITY, "order_cancelled", eid, order_id=order_id)
        elif kind == "picked_up":
            e = event(CITY, "order_picked_up", eid, order_id=order_id)
        elif kind == "delivered":
            e = event(CITY, "order_delivered", eid, order_id=order_id)
        elif kind == "declined":
            e = event(CITY, "order_declined", eid, order_id=order_id, courier_id=courier_id)
        elif kind == "accepted":
            e = event(CITY, "offer_accepted", eid, order_id=order_id, courier_id=courier_id)
        elif kind == "offline":
            e = event(CITY, "courier_offline", eid, courier_id=courier_id)
        else:
            e = event(CITY, "work_cancelled", eid, item_id=order_id)
        raws.append(e.model_dump_json().encode())
    return raws


def _city_before(rds: redis.Redis, ns: str, chain: int = CHAIN_SIZE) -> CityStore:
    """p0 assigned to k0, p1 offered to k1 until FIRST_MS + 5 ms (so that the offer
    expires part-way through a longer batch)."""
    store = CityStore(rds, CITY, ns, chain_size=chain)
    setup = [
        event(CITY, "order_created", "s1", order=order("p0", 500.0)),
        event(CITY, "order_created", "s2", order=order("p1", 600.0)),
        event(CITY, "courier_online", "s3", courier=courier("k0")),
        event(CITY, "courier_online", "s4", courier=courier("k1")),
    ]
    _append(rds, store.keys.events_in, [e.model_dump_json().encode() for e in setup], 1)
    assert store.apply_events(1).applied == len(setup)
    assert store.commit(1, 1, [("p0", "k0")], 0.5).accepted
    offer_s = (FIRST_MS + 5) / 1000 - 0.9
    assert store.commit(1, 2, [("p1", "k1")], 0.9, offer_timeout_s=offer_s).accepted
    return store


@PROPERTY
@given(raws=city_events(), chain=CHAINS)
def test_a_city_batch_ends_as_its_events_applied_one_by_one(
    rds: redis.Redis, namespace: str, raws: list[bytes], chain: int
) -> None:
    with _namespaces_of(rds, namespace) as (alone, batched):
        stores = {ns: _city_before(rds, ns, chain) for ns in (alone, batched)}
        for ns in (alone, batched):
            _append(rds, stores[ns].keys.events_in, raws, FIRST_MS)
        totals = [0, 0, 0]
        for _ in raws:
            r = stores[alone].apply_events(1, max_events=1)
            totals = [totals[0] + r.applied, totals[1] + r.duplicates, totals[2] + r.dead_lettered]
        whole = stores[batched].apply_events(1)
        assert [whole.applied, whole.duplicates, whole.dead_lettered] == totals
        state = _state(rds, batched, CITY)
        assert state == _state(rds, alone, CITY)
        assert stores[batched].snapshot(movable=True) == stores[alone].snapshot(movable=True)

        again = _replayed(rds, batched, CITY, raws)
        _append_retry(rds, stores[batched].keys.events_in, again, FIRST_MS + len(raws) - 1)
        second = stores[batched].apply_events(1)
        assert (second.applied, second.duplicates, second.dead_lettered) == (0, len(again), 0)
        skipped = ("events_in", "cursor", "stats")  # the new entries, and duplicates counted
        assert _without(_state(rds, batched, CITY), batched, CITY, *skipped) == _without(
            state, batched, CITY, *skipped
        )


@PROPERTY
@given(raws=city_events(), at=st.integers(0, 14), chain=CHAINS)
def test_a_city_batch_failing_part_way_then_retried_ends_as_one_by_one(
    rds: redis.Redis, namespace: str, raws: list[bytes], at: int, chain: int
) -> None:
    """A batch whose script fails part-way (the couriers hash made a string: the first
    event that reads it fails with WRONGTYPE, at its first call, before it wrote
    anything; with a move in the batch, the script fails before its first entry) keeps,
    records and counts what it did before; retried once the hash is back, it ends as the
    events one by one. Not covered: a failure after an entry's first write (Redis does
    not undo a failed script's writes, so that entry stays half applied)."""
    offline = event(CITY, "courier_offline", "ef", courier_id="k0").model_dump_json().encode()
    raws = [*raws[:at], offline, *raws[at:]]
    with _namespaces_of(rds, namespace) as (alone, batched):
        stores = {ns: _city_before(rds, ns, chain) for ns in (alone, batched)}
        for ns in (alone, batched):
            _append(rds, stores[ns].keys.events_in, raws, FIRST_MS)
        for _ in raws:
            stores[alone].apply_events(1, max_events=1)
        couriers = stores[batched].keys.couriers
        rds.rename(couriers, f"{couriers}-kept")
        rds.set(couriers, "not a hash")
        with pytest.raises(StoreError, match="WRONGTYPE"):
            stores[batched].apply_events(1)
        rds.delete(couriers)
        rds.rename(f"{couriers}-kept", couriers)
        stores[batched].apply_events(1)
        assert _state(rds, batched, CITY) == _state(rds, alone, CITY)
