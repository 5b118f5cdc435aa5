"""An idle partition ticks in one round trip and its tick marker still advances; anything
that needs the full tick (an event, open work, a claim) gets it (issue 14).

Calls are counted by the real server (``INFO commandstats``) of a Redis started for this
module alone, so nothing else talks to it meanwhile. Those counters include the commands
a script runs inside: one round trip means one ``EVALSHA`` and no command but those the
idle script runs itself (the full tick would run several scripts, and reads of its own).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from jarvis.actors import PartitionActor, Scheduler
from jarvis.actors.city import CityEngine
from jarvis.actors.pipelined import ScheduledTick, run_pipelined
from jarvis.actors.store import StoreEngine
from jarvis.config import Settings
from jarvis.errors import FencedError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from jarvis.testing.servers import RedisServer
from tests.store.builders import event, order

NS = "idle"
NOW = 1_700_000_000.0
#: What the idle scripts run inside (fence.lua, idle_lib.lua, work_idle.lua, city_idle.lua).
INSIDE = {"get", "set", "exists", "xrange", "zrangebyscore", "zcard", "xadd", "hset", "hincrby"}


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    server = RedisServer(Path(tmp_path_factory.mktemp("idle-redis")))
    server.start()
    client = redis.Redis.from_url(server.url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def _calls(client: redis.Redis) -> dict[str, int]:
    """Commands the server ran since its counters were reset (but INFO and CONFIG)."""
    stats = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in stats.items()
        if name not in ("cmdstat_info", "cmdstat_config|resetstat")
    }


def _one_tick(client: redis.Redis, engine: StoreEngine | CityEngine, tick: int) -> bool:
    """Run a tick; whether it was idle. An idle one must have been one round trip."""
    client.config_resetstat()
    report = engine.tick(100, tick, NOW + tick, lambda: True)
    calls = _calls(client)
    assert report.tick == tick
    if report.idle:
        assert calls.pop("evalsha") == 1, calls
        assert set(calls) <= INSIDE, calls
    return report.idle


def _store(client: redis.Redis, name: str) -> StoreEngine:
    return StoreEngine.build(client, name, Settings(namespace=NS), rules=None)


def test_an_idle_store_tick_is_one_script_call_and_advances_the_tick_marker(
    private_redis: redis.Redis,
) -> None:
    engine = _store(private_redis, "s-idle")
    ticks = CityStore(private_redis, "s-idle", NS)
    assert not _one_tick(private_redis, engine, 1)  # the first tick is a full one
    engine.tick(100, 2, NOW + 2, lambda: True)  # loads the idle script into the server
    assert _one_tick(private_redis, engine, 3)
    assert ticks.last_tick() == (3, NOW + 3)
    assert ticks.stats()["idle_ticks"] == "2"
    markers = [d for d in ticks.decisions() if d.type == "tick"]
    assert [(d.tick, d.epoch, d.assignments) for d in markers] == [(1, 100, 0), (2, 100, 0),
                                                                   (3, 100, 0)]  # fmt: skip


def test_a_store_with_news_or_work_gets_the_full_tick_and_turns_idle_again(
    private_redis: redis.Redis,
) -> None:
    store = "s-busy"
    engine = _store(private_redis, store)
    engine.tick(100, 1, NOW, lambda: True)
    engine.tick(100, 2, NOW, lambda: True)
    item = WorkItem(id="w1", store=store, role="picker")
    Producer(private_redis, NS).submit_many([event(store, "work_submitted", item=item)])
    busy = engine.tick(100, 3, NOW, lambda: True)
    assert (busy.idle, busy.applied, busy.open_tasks) == (False, 1, 1)
    assert not engine.tick(100, 4, NOW, lambda: True).idle  # w1 is queued
    engine.work.register_associate(
        Associate(id="a1", home_store=store, roles=frozenset({"picker"}))
    )
    claim = engine.work.get_work("a1")
    assert claim is not None
    assert not engine.tick(100, 5, NOW, lambda: True).idle  # w1 is claimed
    engine.work.complete(store, "w1", "a1", claim.token)
    assert engine.tick(100, 6, NOW, lambda: True).idle  # done, recently: nothing to do
    assert CityStore(private_redis, store, NS).last_tick()[0] == 6


def test_an_idle_city_tick_is_one_script_call_and_an_order_gets_the_full_tick(
    private_redis: redis.Redis,
) -> None:
    city = CityStore(private_redis, "c-idle", NS)
    engine = CityEngine(city)
    engine.tick(100, 1, NOW, lambda: True)  # loads the script into the server
    assert _one_tick(private_redis, engine, 2)
    assert city.last_tick() == (2, NOW + 2)
    Producer(private_redis, NS).submit_many(
        [event("c-idle", "order_created", order=order("o1").model_dump())]
    )
    busy = engine.tick(100, 3, NOW, lambda: True)
    assert (busy.idle, busy.applied, busy.open_tasks) == (False, 1, 1)
    assert not engine.tick(100, 4, NOW, lambda: True).idle  # o1 is still open
    assert city.last_tick()[0] == 4


def test_a_deposed_owner_cannot_record_an_idle_tick(private_redis: redis.Redis) -> None:
    city = CityStore(private_redis, "c-fenced", NS)
    CityEngine(city).tick(200, 1, NOW, lambda: True)
    with pytest.raises(FencedError):
        CityEngine(city).tick(100, 2, NOW + 1, lambda: True)
    engine = _store(private_redis, "s-fenced")
    engine.tick(200, 1, NOW, lambda: True)
    engine.tick(200, 2, NOW, lambda: True)  # idle from now on
    engine.tick(300, 3, NOW, lambda: True)  # a newer owner
    with pytest.raises(FencedError):
        engine.tick(200, 4, NOW + 1, lambda: True)
    assert city.last_tick() == (1, NOW)
    assert CityStore(private_redis, "s-fenced", NS).last_tick() == (3, NOW)


def test_a_worker_sends_the_idle_checks_of_several_due_ticks_in_one_pipeline(
    private_redis: redis.Redis,
) -> None:
    """Each partition's idle script runs once (in the pipeline; its tick then uses that
    outcome instead of running it again), each idle partition's marker advances, and a
    busy partition in the same batch gets its full tick."""
    scheduler = Scheduler(workers=1)
    stores = [f"s-pipe{i}" for i in range(10)]
    actors = [
        PartitionActor(
            store,
            100,
            _store(private_redis, store),
            interval=3600.0,  # the scheduler never runs them again in this test
            scheduler=scheduler,
            gate=lambda: True,
            on_released=lambda p, e: None,
            on_stopped=lambda p, e: None,
        )
        for store in stores
    ]
    try:
        for actor in actors:
            actor.scheduled_tick(time.monotonic())  # the first, full tick: loads, score 0
        item = WorkItem(id="w1", store=stores[3], role="picker")
        Producer(private_redis, NS).submit_many([event(stores[3], "work_submitted", item=item)])
        private_redis.config_resetstat()
        run_pipelined([ScheduledTick(actor, time.monotonic()) for actor in actors])
        calls = _calls(private_redis)
    finally:
        scheduler.stop()
    assert calls["evalsha"] == 10 + 6, calls  # 10 idle checks, then s-pipe3's full tick (6 scripts)
    assert "script|exists" not in calls, calls  # the pipeline is one round trip
    for store in stores:
        assert CityStore(private_redis, store, NS).last_tick()[0] == 2, store
    assert CityStore(private_redis, stores[3], NS).stats().get("idle_ticks") is None
    busy = actors[3].engine
    assert isinstance(busy, StoreEngine)
    assert busy.work.counts(stores[3])["queued"] == 1  # w1 applied
