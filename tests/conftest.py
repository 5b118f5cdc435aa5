"""Real servers for the tests: one ZooKeeper and one Redis per test session.

Every test that needs them gets a fresh ZooKeeper chroot and a fresh Redis key
namespace, so tests never see each other's state. The store and actor suites also run
against a Redis Cluster (three primaries, one replica each, started once per session
when first needed): their conftest parametrises ``redis_mode``, which ``redis_url`` and
``rds`` follow. When a test fails, the tail of each
server's log is attached to its report. A missing server binary fails the test with a
message that says to run ``make setup``; nothing here ever skips.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Literal

import pykka
import pytest
from kazoo.client import KazooClient

from jarvis.config import Settings
from jarvis.connections import redis_client
from jarvis.store.replication import RedisClient
from jarvis.testing.redis_cluster import RedisCluster
from jarvis.testing.servers import DevCluster

pytest_plugins = ["tests.faults"]


@pytest.fixture(autouse=True)
def _logging_is_left_as_found() -> Iterator[None]:
    """A test that runs the CLI in-process configures logging; undo it afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _no_actor_outlives_its_test() -> Iterator[None]:
    """Stop every pykka actor a test left running, so a failed test cannot hang the run."""
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


@pytest.fixture(scope="session")
def servers() -> Iterator[DevCluster]:
    cluster = DevCluster(zk_tick_time_ms=200)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """One Redis Cluster for the session; tests that kill its nodes start their own."""
    root = Path(tempfile.mkdtemp(prefix="jarvis-redis-cluster-"))
    cluster = RedisCluster(root)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        if os.environ.get("JARVIS_KEEP_SERVER_DIRS") != "1":
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster_client(redis_cluster: RedisCluster) -> Iterator[RedisClient]:
    """A client of the session's Redis Cluster, as a member in cluster mode makes it."""
    client = redis_client(Settings(redis=redis_cluster.url, redis_mode="cluster"))
    try:
        yield client
    finally:
        client.close()


RedisMode = Literal["standalone", "cluster"]


@pytest.fixture
def redis_mode() -> RedisMode:
    """Standalone Redis; the store and actor suites parametrise this over both modes."""
    return "standalone"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and "servers" in getattr(item, "fixturenames", ()):
        cluster = item.funcargs.get("servers") if hasattr(item, "funcargs") else None
        if isinstance(cluster, DevCluster):
            for name, tail in cluster.logs():
                report.sections.append((f"{name} log (tail)", tail or "(empty)"))
    funcargs = getattr(item, "funcargs", {}) if report.failed else {}
    if isinstance(funcargs.get("redis_cluster"), RedisCluster):
        for name, tail in funcargs["redis_cluster"].logs():
            report.sections.append((f"{name} log (tail)", tail[-1500:] or "(empty)"))


@pytest.fixture
def zk_hosts(servers: DevCluster) -> Iterator[str]:
    """A connect string with a fresh chroot for this test (created, and removed after)."""
    chroot = f"/test-{uuid.uuid4().hex[:12]}"
    admin = KazooClient(hosts=servers.zookeeper.hosts)
    admin.start(timeout=15)
    admin.ensure_path(chroot)
    try:
        yield servers.zookeeper.hosts + chroot
    finally:
        admin.delete(chroot, recursive=True)
        admin.stop()
        admin.close()


@pytest.fixture
def zk(zk_hosts: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zk_hosts, timeout=4.0)
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def namespace() -> str:
    """A fresh Redis key namespace for this test (keys look like ``<ns>:{<partition>}:...``)."""
    return f"jt{uuid.uuid4().hex[:10]}"


@pytest.fixture
def redis_url(servers: DevCluster, redis_mode: RedisMode, request: pytest.FixtureRequest) -> str:
    """The standalone server's URL, or a seed node of the session's Redis Cluster."""
    if redis_mode == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    return servers.redis.url


@pytest.fixture
def redis_settings(redis_url: str, redis_mode: RedisMode, namespace: str) -> Settings:
    """Settings that reach this test's Redis (either mode) in its fresh namespace."""
    return Settings(redis=redis_url, redis_mode=redis_mode, namespace=namespace)


@pytest.fixture
def rds(redis_settings: Settings, namespace: str) -> Iterator[RedisClient]:
    client = redis_client(redis_settings)
    try:
        yield client
    finally:
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            client.delete(key)
        client.close()
