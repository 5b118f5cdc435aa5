"""An apply sent as a chain of script calls (``ScriptRunner.run_chain``), on real Redis:
each call runs only after the one before it, a server that lost the script is given it
and the chain sent again, a stale epoch is refused for the whole chain, and in a Redis
Cluster the chain waits once for its replica. (That a chain ends as its events one by
one: tests/store/test_apply_properties.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import hiredis
import pytest
import redis

from jarvis.errors import FencedError, NotReplicatedError
from jarvis.models.events import WorkSubmitted
from jarvis.models.work import WorkItem
from jarvis.store.city import CityStore
from jarvis.store.exchange import exchange_each
from jarvis.store.producer import Producer
from jarvis.store.replication import Command, RedisClient, Replication
from jarvis.store.runner import ScriptRunner
from jarvis.store.work.events import WorkEvents
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue
from jarvis.testing.redis_cluster import RedisCluster
from jarvis.testing.servers import RedisServer
from tests.faults import wait_for
from tests.store.builders import event, order

EPOCH = 2**60 + 7  # above 2**53: passed as a decimal string, never a float


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """A server of this module's own: its scripts are flushed and its stats reset."""
    server = RedisServer(Path(tmp_path_factory.mktemp("apply-chain-redis")))
    server.start()
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def test_each_command_of_a_chain_is_sent_before_the_next_is_built(
    private_redis: redis.Redis,
) -> None:
    """What makes the chain worth having: Redis has the first command while the caller
    builds the second (polled from another connection, before the second is yielded)."""
    key = f"jt{uuid.uuid4().hex[:8]}:{{e}}:sent"

    first: Command = ("SET", key, "first")
    second: Command = ("GET", key)

    def commands() -> Iterator[bytes]:
        yield hiredis.pack_command(first)
        with redis.Redis(
            connection_pool=redis.ConnectionPool.from_url(_url(private_redis))
        ) as other:
            wait_for(lambda: other.get(key) == b"first", 10.0, "the first command ran")
        yield hiredis.pack_command(second)

    assert exchange_each(private_redis, commands()) == ["OK", "first"]


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


def _calls(node: redis.Redis) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in node.info("commandstats").items()
    }


def _city(client: RedisClient, chain_size: int, orders: int) -> CityStore:
    """A city of a fresh namespace with ``orders`` order_created events waiting."""
    store = CityStore(client, "c1", f"jt{uuid.uuid4().hex[:8]}", chain_size=chain_size)
    _orders(store, "o", orders)
    return store


def _orders(store: CityStore, prefix: str, count: int) -> None:
    Producer(store.redis, store.namespace).submit_many(
        [
            event("c1", "order_created", f"{prefix}{i}", order=order(f"{prefix}{i}"))
            for i in range(count)
        ]
    )


def test_a_chain_applies_its_calls_one_after_another(private_redis: redis.Redis) -> None:
    store = _city(private_redis, chain_size=2, orders=7)
    store.apply_events(EPOCH)  # the script loaded, the epoch recorded
    _orders(store, "n", 7)
    private_redis.config_resetstat()
    result = store.apply_events(EPOCH)
    assert (result.applied, result.duplicates, result.dead_lettered) == (7, 0, 0)
    assert _calls(private_redis)["evalsha"] == 4  # 2 + 2 + 2 + 1 entries
    assert private_redis.get(store.keys.cursor) == result.cursor
    assert len(store.snapshot().orders) == 14


def test_a_server_that_lost_the_script_is_given_it_and_the_chain_sent_again(
    private_redis: redis.Redis,
) -> None:
    store = _city(private_redis, chain_size=2, orders=1)
    store.apply_events(EPOCH)
    _orders(store, "n", 5)
    private_redis.script_flush()
    private_redis.config_resetstat()
    result = store.apply_events(EPOCH)
    assert (result.applied, result.duplicates, result.dead_lettered) == (5, 0, 0)
    calls = _calls(private_redis)
    # three calls refused (NOSCRIPT: nothing ran), the script loaded once, sent again
    assert (calls["evalsha"], calls["script|load"]) == (6, 1), calls
    assert len(store.snapshot().orders) == 6


def test_a_stale_epoch_is_refused_for_the_whole_chain(private_redis: redis.Redis) -> None:
    store = _city(private_redis, chain_size=2, orders=1)
    store.apply_events(EPOCH)
    before = private_redis.get(store.keys.cursor)
    _orders(store, "n", 5)
    with pytest.raises(FencedError):
        store.apply_events(EPOCH - 1)
    assert private_redis.get(store.keys.cursor) == before
    assert len(store.snapshot().orders) == 1
    assert store.apply_events(EPOCH).applied == 5


def _store_events(client: RedisClient, replication: Replication) -> tuple[WorkEvents, WorkKeys]:
    """A store of a fresh namespace whose scripts wait for ``replication``, applying in
    chains of two."""
    namespace = f"jt{uuid.uuid4().hex[:8]}"
    queue = WorkQueue(client, namespace, scripts=ScriptRunner(client, replication=replication))
    return WorkEvents(queue, chain_size=2), WorkKeys("s1", namespace)


def _submit(events: WorkEvents, ids: range) -> None:
    items = [WorkItem(id=f"w{i}", store="s1", role="r") for i in ids]
    Producer(events.work.redis, events.work.namespace).submit_many(
        [WorkSubmitted(id=f"s{item.id}", partition="s1", at=1.0, item=item) for item in items]
    )


def test_a_chain_waits_once_for_a_replica_and_what_it_applied_is_there(
    redis_cluster: RedisCluster, cluster_client: RedisClient
) -> None:
    events, keys = _store_events(cluster_client, Replication(1, 2.0))
    _submit(events, range(5))
    assert events.apply("s1", EPOCH).applied == 5  # the script loaded on that node
    _submit(events, range(5, 10))
    primary = redis_cluster.primary_for(keys.items)
    with redis.Redis(port=primary.port, decode_responses=True) as direct:
        direct.config_resetstat()
        result = events.apply("s1", EPOCH)
        calls = _calls(direct)
    assert (result.applied, result.dead_lettered) == (5, 0)
    assert (calls["evalsha"], calls["wait"]) == (3, 1), calls
    [replica] = redis_cluster.replicas_of(primary)
    with redis.Redis(port=replica.port, decode_responses=True) as direct:
        direct.execute_command("READONLY")
        assert direct.get(keys.partition.cursor) == result.cursor
        assert direct.hlen(keys.items) == 10


def test_a_chain_too_few_replicas_confirm_has_an_unknown_outcome(
    cluster_client: RedisClient,
) -> None:
    events, keys = _store_events(cluster_client, Replication(2, 0.2))
    _submit(events, range(5))
    with pytest.raises(NotReplicatedError) as caught:
        events.apply("s1", EPOCH)
    assert (caught.value.wanted, caught.value.confirmed) == (2, 1)
    # Unknown, not undone: the primary applied the whole chain.
    assert cluster_client.hlen(keys.items) == 5
