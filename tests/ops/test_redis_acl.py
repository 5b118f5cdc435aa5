"""Redis with the documented production users (deploy/redis/redis.conf): the default user
is off, so a client without the Jarvis user is refused, and a whole member (city ticks,
store ticks, get-work) runs with nothing but the Jarvis user's permissions."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kazoo.client import KazooClient
from prometheus_client import REGISTRY
from redis.backoff import NoBackoff
from redis.retry import Retry

from jarvis.cli.main import EXIT_FAILURE, main
from jarvis.config import Settings
from jarvis.connections import redis_client
from jarvis.daemon import Daemon
from jarvis.election import PartitionRegistry
from jarvis.models import Associate, WorkItem
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from jarvis.store.work.queue import WorkQueue
from jarvis.testing.servers import RedisServer
from tests.faults import wait_for
from tests.ops.conftest import CREDENTIALS
from tests.store.builders import courier, event, order

CONF = Path(__file__).parents[2] / "deploy" / "redis" / "redis.conf"
PASSWORD = "s3cret-redis"
READ_ONLY_PASSWORD = "s3cret-ro"


def _users() -> str:
    """The ``user`` lines of the documented production config, with test passwords."""
    lines = [line for line in CONF.read_text().splitlines() if line.startswith("user ")]
    assert any(line.startswith("user default off") for line in lines), "default user stays on"
    text = "\n".join(lines)
    return text.replace(">CHANGE-ME-TOO", f">{READ_ONLY_PASSWORD}").replace(
        ">CHANGE-ME", f">{PASSWORD}"
    )


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("acl-redis"), extra_config=_users())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _client(server: RedisServer, **options: Any) -> redis.Redis:
    # No retries: a refused login is an answer, not a glitch to wait out.
    return redis.Redis(
        port=server.port, decode_responses=True, retry=Retry(NoBackoff(), 0), **options
    )


def test_a_client_without_the_jarvis_user_is_refused(acl_redis: RedisServer) -> None:
    for options in ({}, {"username": "jarvis", "password": "wrong"}, {"password": PASSWORD}):
        client = _client(acl_redis, **options)
        with pytest.raises(redis.AuthenticationError):
            client.ping()
        client.close()


def test_the_jarvis_user_is_confined_to_its_namespace_and_commands(
    acl_redis: RedisServer,
) -> None:
    client = _client(acl_redis, username="jarvis", password=PASSWORD)
    read_only = _client(acl_redis, username="jarvis-ro", password=READ_ONLY_PASSWORD)
    try:
        client.set("jarvis:probe", "1")
        assert read_only.get("jarvis:probe") == "1"
        with pytest.raises(redis.exceptions.NoPermissionError):
            read_only.set("jarvis:probe", "2")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("elsewhere:probe", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.keys("*")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.config_get("*")
        assert client.get("jarvis:probe") == "1"
    finally:
        client.delete("jarvis:probe")
        client.close()
        read_only.close()


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_member_runs_cities_and_stores_with_only_the_documented_user(
    acl_redis: RedisServer, zk_hosts: str, admin: KazooClient, cluster: str, tmp_path: Path
) -> None:
    secret = tmp_path / "redis-password"
    secret.write_text(PASSWORD + "\n")
    settings = Settings(
        zk=zk_hosts,
        zk_auth=CREDENTIALS,
        redis=f"redis://127.0.0.1:{acl_redis.port}/0",
        redis_username="jarvis",
        redis_password_file=secret,
        cluster=cluster,
        member="m1",
        tick=0.1,
        session_timeout=4.0,
        drain_timeout=10.0,
    )
    client = redis_client(settings)
    Producer(client).submit_many(
        [
            event("acl-city", "courier_online", courier=courier("c1")),
            event("acl-city", "order_created", order=order("o1", created_at=time.time())),
        ]
    )
    registry = PartitionRegistry(admin, cluster)
    registry.add("acl-city", "city")
    registry.add("acl-store", "store")
    before = {k: _sample("jarvis_tick_errors_total", {"kind": k}) for k in ("city", "store")}
    daemon = Daemon(settings)
    try:
        daemon.start()
        city = CityStore(client, "acl-city")
        assigned = wait_for(
            lambda: [(d.task, d.worker) for d in city.decisions() if d.type == "assignment"],
            15,
            "the member assigned o1 through the ACL user",
        )
        assert assigned == [("o1", "c1")]
        store_ticks = CityStore(client, "acl-store")  # a store's tick marker, as a city's
        wait_for(lambda: store_ticks.last_tick()[0] > 2, 15, "the store partition ticked 3 times")
        work = WorkQueue(client, "jarvis")
        work.register_associate(Associate(id="a1", home_store="acl-store", roles={"picker"}))
        work.enqueue(WorkItem(id="w1", store="acl-store", role="picker"))
        claim = work.get_work("a1")
        assert claim is not None
        assert claim.item.id == "w1"
    finally:
        daemon.stop(graceful=True)
        for key in client.scan_iter(match="jarvis:*", count=1000):
            client.delete(key)
        client.close()
    after = {k: _sample("jarvis_tick_errors_total", {"kind": k}) for k in ("city", "store")}
    assert after == before, "a tick failed (a command the ACL user may not run?)"


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_jarvis_run_with_a_wrong_redis_password_fails_without_showing_it(
    acl_redis: RedisServer,
    zk_hosts: str,
    capsys: pytest.CaptureFixture[str],
    restore_signals: None,
) -> None:
    url = f"redis://jarvis:not-{PASSWORD}@127.0.0.1:{acl_redis.port}/0"
    code = main(["run", "--zk", zk_hosts, "--redis", url, "--member", "m1"])
    _, err = capsys.readouterr()
    assert code == EXIT_FAILURE
    assert re.search(r"Redis at redis://jarvis:\*\*\*@127\.0\.0\.1:\d+/0", err), err
    assert PASSWORD not in err
