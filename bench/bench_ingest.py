"""Event ingestion into one city, and the snapshot of a busy city.

- ``city_ingest``: events/s through ``Producer.submit_many`` + ``CityStore.apply_events``
  (validation on both sides, fenced idempotent apply), beside the floor: a bare pipelined
  ``XADD`` of the same JSON payloads, in the same run and chunk size. Also the split:
  ``submit_vs_bare_xadd`` (the producer alone over the floor) and ``apply_share`` (the
  part of the whole spent in ``apply_events``). The ``*_cpu`` figures are the same ratios
  in CPU seconds of this process plus the Redis server (``INFO cpu``): on a shared,
  loaded machine wall-time ratios swing by 2x between runs, CPU ratios far less. The
  floor and the ingest take ``ROUNDS`` alternating turns on slices of the events; each
  ratio is the median of the rounds' ratios (``_min`` / ``_max``: their spread).
- ``store_ingest``: the same for a store's work events (``WorkEvents.apply``): of every
  8 events, 6 new work items, one reprioritised and one cancelled (``_work_mix``).
- ``city_snapshot``: ``CityStore.snapshot()`` of 2,000 open orders and 1,000 couriers,
  beside the floor: the same pipelined reads without decoding or validating.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import redis

from jarvis.models.city import Courier, Order
from jarvis.models.events import (
    CourierMoved,
    CourierOnline,
    Event,
    OrderCreated,
    WorkCancelled,
    WorkSubmitted,
    WorkUpdated,
)
from jarvis.models.geo import Point
from jarvis.models.work import WorkItem
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.queue import WorkQueue
from jarvis.testing.servers import DevCluster

CHUNK = 1000
EPOCH = 1
#: Alternating turns of the floor and the ingest (``_timed``): with 10, the median of three
#: runs in a row moved by 0.02 (0.467-0.486x, load 2.3); with 5, by 0.24 (0.38-0.62x).
ROUNDS = 10


def _point(rng: np.random.Generator) -> Point:
    return Point(lat=48.8 + 0.1 * float(rng.random()), lon=2.3 + 0.1 * float(rng.random()))


def _couriers(city: str, count: int, rng: np.random.Generator) -> list[Event]:
    return [
        CourierOnline(
            id=f"{city}-on-{i}",
            partition=city,
            at=1.0,
            courier=Courier(id=f"c{i}", position=_point(rng), capacity=2),
        )
        for i in range(count)
    ]


def _orders(city: str, count: int, rng: np.random.Generator) -> list[Event]:
    return [
        OrderCreated(
            id=f"{city}-oc-{i}",
            partition=city,
            at=1.0,
            order=Order(
                id=f"o{i}",
                pickup=_point(rng),
                dropoff=_point(rng),
                created_at=1000.0 + i,
                ready_at=1000.0 + i,
            ),
        )
        for i in range(count)
    ]


def _mix(city: str, n: int, couriers: int, rng: np.random.Generator) -> list[Event]:
    """One order created for three courier moves, the shape of a busy city's stream."""
    orders = iter(_orders(city, n // 4 + 1, rng))
    events: list[Event] = []
    for i in range(n):
        if i % 4 == 0:
            events.append(next(orders))
        else:
            events.append(
                CourierMoved(
                    id=f"{city}-mv-{i}",
                    partition=city,
                    at=2.0,
                    courier_id=f"c{int(rng.integers(couriers))}",
                    position=_point(rng),
                )
            )
    return events


def _work_mix(store: str, n: int) -> list[Event]:
    """Of every 8 events: 6 new work items (4 roles), one reprioritised, one cancelled."""
    events: list[Event] = []
    for i in range(n):
        if i % 8 == 6:
            events.append(
                WorkUpdated(
                    id=f"{store}-up-{i}", partition=store, at=2.0, item_id=f"w{i - 3}", priority=50
                )
            )
        elif i % 8 == 7:
            events.append(
                WorkCancelled(id=f"{store}-cx-{i}", partition=store, at=2.0, item_id=f"w{i - 5}")
            )
        else:
            item = WorkItem(id=f"w{i}", store=store, role=f"r{i % 4}", priority=i % 7)
            events.append(WorkSubmitted(id=f"{store}-ws-{i}", partition=store, at=1.0, item=item))
    return events


def _bare_xadd(client: redis.Redis, payloads: list[str]) -> float:
    """Seconds to XADD ``payloads`` in pipelined chunks, with no validation at all."""
    client.delete("bench-floor:{x}:in")
    started = time.perf_counter()
    for i in range(0, len(payloads), CHUNK):
        with client.pipeline(transaction=False) as pipe:
            for payload in payloads[i : i + CHUNK]:
                pipe.xadd("bench-floor:{x}:in", {"event": payload})
            pipe.execute()
    return time.perf_counter() - started


def _ingest(client: redis.Redis, n: int) -> dict[str, Any]:
    """``city_ingest``: order and courier events into one city (``CityStore.apply_events``)."""
    rng = np.random.default_rng(7)
    producer = Producer(client)
    store = CityStore(client, "bench-ingest")
    producer.submit_many(_couriers("bench-ingest", 1000, rng))
    store.apply_events(EPOCH)
    events = _mix("bench-ingest", n, 1000, rng)

    def apply() -> tuple[int, int, int]:
        r = store.apply_events(EPOCH, max_events=5000)
        return r.applied, r.dead_lettered, r.duplicates

    row = _timed(client, producer, events, apply)
    return {"benchmark": "city_ingest", **row}


def _store_ingest(client: redis.Redis, n: int) -> dict[str, Any]:
    """``store_ingest``: the same measure for a store's work events (``WorkEvents.apply``)."""
    store = "bench-store"
    work = WorkEvents(WorkQueue(client))

    def apply() -> tuple[int, int, int]:
        r = work.apply(store, EPOCH, max_events=2000)
        return r.applied, r.dead_lettered, r.duplicates

    row = _timed(client, Producer(client), _work_mix(store, n), apply)
    return {"benchmark": "store_ingest", **row}


def _cpu(client: redis.Redis) -> float:
    """CPU seconds so far of this process and of the Redis server, together."""
    return sum(_cpu_split(client))


def _cpu_split(client: redis.Redis) -> tuple[float, float]:
    """CPU seconds so far of this process, and of the Redis server."""
    info = client.info("cpu")
    return time.process_time(), float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _timed(
    client: redis.Redis,
    producer: Producer,
    events: Sequence[Event],
    apply: Callable[[], tuple[int, int, int]],
) -> dict[str, Any]:
    """Submit ``events`` in chunks, then ``apply`` (applied, dead-lettered, duplicates)
    until nothing is left, beside the floor (a bare pipelined ``XADD`` of the same JSON).

    In ``ROUNDS`` alternating turns (as ``bench_solver`` does): each round times the floor
    on its slice of the payloads, then submits and applies the same slice, each timed
    part after a ``gc.collect()``. A burst of load from elsewhere then hits one round of
    one side instead of a whole side; the ratios are the medians of the rounds' ratios
    (the spread beside them), the rates the totals over all rounds."""
    n = len(events)
    payloads = [event.model_dump_json() for event in events]
    per = -(-n // ROUNDS)
    rounds: list[dict[str, float]] = []
    # The inputs built above (n events, n payloads: a few hundred thousand objects) are
    # the benchmark's, not ingest's: frozen out of the cyclic collector, so that neither
    # side's timing includes rescanning them (both are timed under the same collector).
    gc.collect()
    gc.freeze()
    try:
        applied = 0
        for first in range(0, n, per):
            gc.collect()
            cpu = _cpu(client)
            floor = _bare_xadd(client, payloads[first : first + per])
            floor_cpu = _cpu(client) - cpu

            gc.collect()
            cpu = _cpu(client)
            started = time.perf_counter()
            for i in range(first, min(first + per, n), CHUNK):
                producer.submit_many(events[i : min(i + CHUNK, first + per)])
            submitted = time.perf_counter()
            mine, server = _cpu_split(client)
            submit_cpu = mine + server - cpu
            while True:
                done_now, dead, duplicates = apply()
                assert not dead, f"{dead} events dead-lettered"
                if not done_now and not duplicates:
                    break
                applied += done_now
            done = time.perf_counter()
            mine_after, server_after = _cpu_split(client)
            apply_server_cpu = server_after - server
            apply_cpu = mine_after - mine + apply_server_cpu
            rounds.append({
                "floor": floor, "floor_cpu": floor_cpu, "submit": submitted - started,
                "apply": done - submitted, "submit_cpu": submit_cpu, "apply_cpu": apply_cpu,
                "apply_redis_cpu": apply_server_cpu,
            })  # fmt: skip
        assert applied == n, f"applied {applied} of {n}"
    finally:
        gc.unfreeze()

    def total(part: str) -> float:
        return sum(r[part] for r in rounds)

    def median(ratio: Callable[[dict[str, float]], float]) -> float:
        return float(np.median([ratio(r) for r in rounds]))

    wall = [r["floor"] / (r["submit"] + r["apply"]) for r in rounds]
    cpu_ratios = [r["floor_cpu"] / (r["submit_cpu"] + r["apply_cpu"]) for r in rounds]
    return {
        "events": n,
        "rounds": len(rounds),
        "submit_per_s": n / total("submit"),
        "apply_per_s": n / total("apply"),
        "ingest_per_s": n / (total("submit") + total("apply")),
        "bare_xadd_per_s": n / total("floor"),
        # floor / (submit + apply) of each round, their median and spread
        "ingest_vs_bare_xadd": float(np.median(wall)),
        "ingest_vs_bare_xadd_min": min(wall),
        "ingest_vs_bare_xadd_max": max(wall),
        # Where the time goes: the producer alone against the floor, and the share of the
        # whole spent applying (parse and validate each entry again, fenced script).
        "submit_vs_bare_xadd": median(lambda r: r["floor"] / r["submit"]),
        "apply_share": median(lambda r: r["apply"] / (r["submit"] + r["apply"])),
        # The same ratio in CPU seconds (this process plus the Redis server), which a
        # loaded machine disturbs far less than wall time; and apply's CPU split.
        "ingest_vs_bare_xadd_cpu": float(np.median(cpu_ratios)),
        "ingest_vs_bare_xadd_cpu_min": min(cpu_ratios),
        "submit_vs_bare_xadd_cpu": median(lambda r: r["floor_cpu"] / r["submit_cpu"]),
        "apply_cpu_us_per_event": total("apply_cpu") / n * 1e6,
        # of which the Redis server's (the rest is this process's), and the floor's whole
        # CPU per event beside them: what apply costs Redis alone, against a bare XADD
        "apply_redis_cpu_us_per_event": total("apply_redis_cpu") / n * 1e6,
        "bare_xadd_cpu_us_per_event": total("floor_cpu") / n * 1e6,
    }


def _snapshot(client: redis.Redis, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(11)
    city = "bench-snap"
    producer = Producer(client)
    store = CityStore(client, city)
    events = _orders(city, 2000, rng) + _couriers(city, 1000, rng)
    for i in range(0, len(events), CHUNK):
        producer.submit_many(events[i : i + CHUNK])
    while store.apply_events(EPOCH).applied:
        pass
    snap = store.snapshot()
    assert (len(snap.orders), len(snap.couriers)) == (2000, 1000)

    samples, floors = [], []
    k = store.keys
    for _ in range(repeats):
        t = time.perf_counter()
        store.snapshot()
        samples.append(time.perf_counter() - t)
        t = time.perf_counter()
        with client.pipeline(transaction=True) as pipe:
            pipe.get(k.cursor)
            pipe.zrange(k.open_orders, 0, -1)
            pipe.hgetall(k.orders)
            pipe.smembers(k.couriers_online)
            pipe.hgetall(k.couriers)
            pipe.hgetall(k.courier_positions)
            pipe.hgetall(k.courier_load)
            pipe.execute()
        floors.append(time.perf_counter() - t)
    ms, floor_ms = np.asarray(samples) * 1000, np.asarray(floors) * 1000
    return {
        "benchmark": "city_snapshot",
        "orders": 2000,
        "couriers": 1000,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "bare_reads_p50_ms": float(np.percentile(floor_ms, 50)),
        "snapshot_vs_bare_reads": float(np.percentile(ms, 50) / np.percentile(floor_ms, 50)),
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 5_000 if quick else 50_000
    repeats = 10 if quick else 50
    with DevCluster() as servers:
        client = redis.Redis.from_url(servers.redis.url, decode_responses=True)
        try:
            return [_ingest(client, n), _store_ingest(client, n), _snapshot(client, repeats)]
        finally:
            client.close()
