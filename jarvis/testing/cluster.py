"""A local Jarvis cluster of real processes, and the faults to throw at it.

Used by the fault-injection tests, the benchmarks and `jarvis demo`: a ZooKeeper
(standalone, or a three-server ensemble), a Redis with AOF, and N members, each a real
``python -m jarvis run`` process with its own zone. Operations: rolling restart (SIGTERM a
member, start its replacement, next), kill -9, SIGSTOP/SIGCONT, restart Redis, kill the
ZooKeeper leader, pause (SIGSTOP) one ZooKeeper server and tell which server a member's
session is connected to. Member processes die with the harness (``PR_SET_PDEATHSIG``), so even a
killed test run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from kazoo.client import KazooClient

from jarvis.config import Settings
from jarvis.connections import redis_client
from jarvis.election.watchdog import ConnectionWatchdog
from jarvis.errors import ServerError
from jarvis.store.replication import RedisClient
from jarvis.testing.redis_cluster import RedisCluster
from jarvis.testing.servers import (
    RedisServer,
    ZooKeeperEnsemble,
    ZooKeeperServer,
    die_with_parent,
)

__all__ = ["LocalCluster", "MemberProcess"]

log = logging.getLogger(__name__)


@dataclass
class MemberProcess:
    """One ``jarvis run`` process."""

    name: str
    zone: str
    log_path: Path
    proc: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive:
            self.proc.send_signal(signum)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


class LocalCluster:
    """Servers plus member processes in one temporary directory; a context manager."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        cluster: str = "local",
        namespace: str = "jarvis",
        tick: float = 0.5,
        session_timeout: float = 4.0,
        ensemble: bool = False,
        log_level: str = "INFO",
        member_env: Mapping[str, str] | None = None,
        zk_tick_time_ms: int = 200,
        redis_cluster: bool = False,
        redis_replicas: int = 1,
    ) -> None:
        self._owns_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="jarvis-cluster-")) if root is None else root
        self.cluster = cluster
        self.namespace = namespace
        self.tick = tick
        self.session_timeout = session_timeout
        self.log_level = log_level
        self.member_env = dict(member_env or {})
        self.zookeeper: ZooKeeperServer | ZooKeeperEnsemble
        if ensemble:
            self.zookeeper = ZooKeeperEnsemble(self.root / "zk", tick_time_ms=zk_tick_time_ms)
        else:
            self.zookeeper = ZooKeeperServer(self.root / "zk", tick_time_ms=zk_tick_time_ms)
        #: One Redis, or (``redis_cluster``) a Redis Cluster of three primaries with
        #: ``redis_replicas`` replicas each, which the members use with
        #: ``--redis-mode cluster``.
        self.redis: RedisServer | RedisCluster
        if redis_cluster:
            self.redis = RedisCluster(self.root / "redis-cluster", replicas=redis_replicas)
        else:
            self.redis = RedisServer(self.root / "redis")
        self.members: dict[str, MemberProcess] = {}
        self._admin: KazooClient | None = None
        self._admin_watchdog: ConnectionWatchdog | None = None

    # --- servers --------------------------------------------------------------------

    @property
    def zk_hosts(self) -> str:
        return self.zookeeper.hosts

    @property
    def redis_url(self) -> str:
        return self.redis.url

    @property
    def redis_mode(self) -> str:
        return "cluster" if isinstance(self.redis, RedisCluster) else "standalone"

    def redis_client(self) -> RedisClient:
        """A client of the harness for its Redis (a cluster client in cluster mode)."""
        return redis_client(Settings(redis=self.redis_url, redis_mode=self.redis_mode))

    def start(self) -> LocalCluster:
        try:
            self.zookeeper.start()
            self.redis.start()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def admin(self) -> KazooClient:
        """A ZooKeeper client of the harness (not a member)."""
        if self._admin is None:
            self._admin = KazooClient(hosts=self.zk_hosts, timeout=10.0)
            self._admin.start(timeout=30)
            # Like a member, the harness leaves a ZooKeeper server a test froze.
            self._admin_watchdog = ConnectionWatchdog(self._admin, 10.0, name="harness")
            self._admin_watchdog.start()
        return self._admin

    def restart_redis(self) -> None:
        if isinstance(self.redis, RedisCluster):
            raise ServerError("restart_redis needs one Redis; restart a cluster node instead")
        self.redis.restart()

    def _ensemble(self) -> ZooKeeperEnsemble:
        if not isinstance(self.zookeeper, ZooKeeperEnsemble):
            raise ServerError("this needs a ZooKeeper ensemble (ensemble=True)")
        return self.zookeeper

    def member_session(self, name: str) -> int | None:
        """The ZooKeeper session of member ``name`` (the owner of its member node)."""
        try:
            stat = self.admin.exists(f"/jarvis/{self.cluster}/members/{name}")
        except Exception:  # connection trouble: unknown for now
            return None
        return None if stat is None else int(stat.ephemeralOwner)

    def zookeeper_of(self, session: int) -> ZooKeeperServer | None:
        """The ensemble server that ``session`` is connected to (None: none answers so)."""
        return self._ensemble().server_of(session)

    def pause_zookeeper(self, server: ZooKeeperServer) -> None:
        self._ensemble().pause(server)

    def resume_zookeeper(self, server: ZooKeeperServer) -> None:
        self._ensemble().resume(server)

    def kill_zookeeper_leader(self) -> ZooKeeperServer:
        if not isinstance(self.zookeeper, ZooKeeperEnsemble):
            raise ServerError("kill_zookeeper_leader needs an ensemble (ensemble=True)")
        leader = self.zookeeper.leader()
        leader.kill()
        return leader

    # --- members --------------------------------------------------------------------

    def lose_zone(self, member: str, index: int) -> list[str]:
        """SIGKILL a zone at once: ``member``, ZooKeeper server ``index`` and the Redis
        primary ``index`` (of the primaries serving slots now). What was done, line by
        line. Needs a ZooKeeper ensemble and a Redis Cluster."""
        if not isinstance(self.redis, RedisCluster) or not isinstance(
            self.zookeeper, ZooKeeperEnsemble
        ):
            raise ServerError("losing a zone needs a ZooKeeper ensemble and a Redis Cluster")
        primary = self.redis.primaries()[index]
        zk_server = self.zookeeper.servers[index]
        self.kill_member(member)
        zk_server.kill()
        self.redis.kill(primary)
        return [
            f"member {member} killed",
            f"ZooKeeper server {zk_server.hosts} killed",
            f"Redis primary 127.0.0.1:{primary.port} killed (a replica takes over)",
        ]

    def start_member(
        self, name: str, zone: str, wait: bool = True, version: str | None = None
    ) -> MemberProcess:
        """Start `jarvis run` for member ``name`` (announcing ``version`` if given)."""
        if name in self.members and self.members[name].alive:
            raise ServerError(f"member {name} is already running")
        log_path = self.root / "members" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            {
                "JARVIS_NAMESPACE": self.namespace,
                "PYTHONUNBUFFERED": "1",
                **self.member_env,
            }
        )
        cmd = [
            sys.executable,
            "-m",
            "jarvis",
            "--log-level",
            self.log_level,
            "run",
            "--zk",
            self.zk_hosts,
            "--redis",
            self.redis_url,
            "--redis-mode",
            self.redis_mode,
            "--cluster",
            self.cluster,
            "--zone",
            zone,
            "--member",
            name,
            "--tick",
            str(self.tick),
            "--session-timeout",
            str(self.session_timeout),
        ]
        if version is not None:
            cmd += ["--member-version", version]
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                preexec_fn=die_with_parent,
            )
        member = MemberProcess(name, zone, log_path, proc)
        self.members[name] = member
        if wait:
            self.wait_ready(name)
        return member

    def member_node(self, name: str) -> dict[str, Any] | None:
        path = f"/jarvis/{self.cluster}/members/{name}"
        try:
            data, _ = self.admin.get(path)
        except Exception:  # NoNodeError and connection trouble alike: not ready
            return None
        parsed: dict[str, Any] = json.loads(data or b"{}")
        return parsed

    def wait_ready(self, name: str, timeout: float = 30.0) -> None:
        member = self.members[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not member.alive:
                raise ServerError(
                    f"member {name} exited with {member.proc.returncode}:\n{member.log_tail()}"
                )
            node = self.member_node(name)
            if node is not None and node.get("pid") == member.proc.pid:
                return
            time.sleep(0.05)
        raise ServerError(f"member {name} not ready within {timeout} s:\n{member.log_tail()}")

    def stop_member(self, name: str, timeout: float = 60.0) -> int:
        """SIGTERM (graceful drain) and wait; returns the exit code."""
        member = self.members[name]
        member.signal(signal.SIGTERM)
        try:
            return member.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            member.proc.kill()
            member.proc.wait(10)
            raise ServerError(
                f"member {name} did not stop within {timeout} s:\n{member.log_tail()}"
            ) from None

    def kill_member(self, name: str) -> None:
        member = self.members[name]
        member.proc.kill()
        member.proc.wait(10)

    def pause_member(self, name: str) -> None:
        self.members[name].signal(signal.SIGSTOP)

    def resume_member(self, name: str) -> None:
        self.members[name].signal(signal.SIGCONT)

    def rolling_restart(
        self, settle: float = 0.0, on_step: Callable[[str], None] | None = None
    ) -> None:
        """Restart every member in turn: SIGTERM, wait for exit, start again, wait ready."""
        for name, member in list(self.members.items()):
            if not member.alive:
                continue
            code = self.stop_member(name)
            if code != 0:
                raise ServerError(f"member {name} exited with {code} on SIGTERM")
            self.start_member(name, member.zone)
            if on_step is not None:
                on_step(name)
            if settle:
                time.sleep(settle)

    def logs(self) -> Iterator[tuple[str, str]]:
        if isinstance(self.zookeeper, ZooKeeperEnsemble):
            yield from self.zookeeper.logs()
        else:
            yield "zookeeper", self.zookeeper.log_tail()
        if isinstance(self.redis, RedisCluster):
            yield from self.redis.logs()
        else:
            yield "redis", self.redis.log_tail()
        for name, member in self.members.items():
            yield f"member {name}", member.log_tail()

    def stop(self) -> None:
        for member in self.members.values():
            member.signal(signal.SIGTERM)
        for member in self.members.values():
            try:
                member.proc.wait(30)
            except subprocess.TimeoutExpired:
                member.proc.kill()
                member.proc.wait(10)
        if self._admin_watchdog is not None:
            self._admin_watchdog.stop()
            self._admin_watchdog = None
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.stop()
                self._admin.close()
            self._admin = None
        with contextlib.suppress(Exception):
            self.redis.stop()
        with contextlib.suppress(Exception):
            self.zookeeper.stop()
        if self._owns_root and os.environ.get("JARVIS_KEEP_SERVER_DIRS") != "1":
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
