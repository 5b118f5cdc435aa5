"""A local Redis Cluster: three primaries with one replica each, on free loopback ports.

Each node is a :class:`~jarvis.testing.servers.RedisServer` (AOF on) started with
``cluster-enabled yes``; :meth:`RedisCluster.start` joins them with ``redis-cli --cluster
create --cluster-replicas 1`` and waits until every node reports ``cluster_state:ok`` and
every primary has its replica attached. Any node can be killed (SIGKILL), paused
(SIGSTOP), resumed (SIGCONT) and restarted (same port, same data and ``nodes.conf``, so
it rejoins as itself; if its replica was promoted meanwhile it comes back as a replica).

The topology is always read from the nodes (``CLUSTER NODES``), never remembered: after a
failover, :meth:`RedisCluster.primaries` names the promoted replica.

``cluster-require-full-coverage no``: while one primary is down and not yet replaced,
only its slots are unavailable; the partitions in other slots go on.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from jarvis.errors import ServerError, ServerMissingError
from jarvis.testing.servers import RedisServer, free_port

__all__ = ["ClusterNode", "RedisCluster"]

log = logging.getLogger(__name__)

#: Milliseconds a node may be unreachable before the others fail it over.
DEFAULT_NODE_TIMEOUT_MS = 2000
SLOTS = 16384


@dataclass(frozen=True)
class ClusterNode:
    """One line of ``CLUSTER NODES`` as seen by some node."""

    node_id: str
    port: int
    flags: frozenset[str]
    primary_id: str | None  # the primary it replicates, for a replica
    slots: tuple[tuple[int, int], ...]

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def failed(self) -> bool:
        return "fail" in self.flags or "fail?" in self.flags

    def owns(self, slot: int) -> bool:
        return any(lo <= slot <= hi for lo, hi in self.slots)


def _parse_slots(fields: list[str]) -> tuple[tuple[int, int], ...]:
    ranges = []
    for item in fields:
        if item.startswith("["):  # a slot being migrated or imported
            continue
        lo, _, hi = item.partition("-")
        ranges.append((int(lo), int(hi or lo)))
    return tuple(ranges)


def parse_cluster_nodes(text: str) -> list[ClusterNode]:
    """``CLUSTER NODES`` output as :class:`ClusterNode` records."""
    nodes = []
    for line in text.strip().splitlines():
        fields = line.split()
        address = fields[1].partition("@")[0]
        primary = fields[3]
        nodes.append(
            ClusterNode(
                node_id=fields[0],
                port=int(address.rpartition(":")[2]),
                flags=frozenset(fields[2].split(",")),
                primary_id=None if primary == "-" else primary,
                slots=_parse_slots(fields[8:]),
            )
        )
    return nodes


class RedisCluster:
    """``primaries`` primaries with ``replicas`` replicas each, in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        primaries: int = 3,
        replicas: int = 1,
        node_timeout_ms: int = DEFAULT_NODE_TIMEOUT_MS,
    ) -> None:
        if primaries < 3:
            raise ServerError("a Redis Cluster needs at least three primaries")
        self.workdir = workdir
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.cli = shutil.which("redis-cli")
        if self.cli is None:
            raise ServerMissingError(
                "redis-cli is not installed (Debian package 'redis-tools'). Run `make setup`."
            )
        config = "\n".join(
            [
                "cluster-enabled yes",
                "cluster-config-file nodes.conf",
                f"cluster-node-timeout {node_timeout_ms}",
                # A replica may always take over, however long it was cut off (a test
                # cluster has no better candidate).
                "cluster-replica-validity-factor 0",
                "cluster-require-full-coverage no",
                "cluster-allow-reads-when-down no",
            ]
        )
        count = primaries * (1 + replicas)
        # The bus port defaults to port + 10000, which may not exist: give each its own.
        self.nodes = [
            RedisServer(workdir / f"node{i}", extra_config=f"{config}\ncluster-port {free_port()}")
            for i in range(1, count + 1)
        ]

    # --- life -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """A seed URL (the first node); the cluster client discovers the rest."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> RedisCluster:
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_ready()
            self._create()
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        assert self.cli is not None
        cmd = [
            self.cli,
            "--cluster",
            "create",
            *(f"127.0.0.1:{node.port}" for node in self.nodes),
            "--cluster-replicas",
            str(self.replicas),
            "--cluster-yes",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise ServerError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")
        log.info("redis cluster created on ports %s", [n.port for n in self.nodes])

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.resume()  # a paused process cannot handle SIGTERM
                node.stop()

    def logs(self) -> Iterator[tuple[str, str]]:
        for i, node in enumerate(self.nodes, 1):
            yield f"redis-node{i}:{node.port}", node.log_tail()

    # --- reading the topology -----------------------------------------------------------

    def _client(self, node: RedisServer) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=node.port,
            decode_responses=True,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
        )

    def node(self, port: int) -> RedisServer:
        for node in self.nodes:
            if node.port == port:
                return node
        raise ServerError(f"no node of this cluster listens on port {port}")

    def view(self, node: RedisServer) -> list[ClusterNode]:
        """The cluster as ``node`` sees it (``CLUSTER NODES``)."""
        with self._client(node) as client:
            # "CLUSTER", "NODES" apart: redis-py's reply parser for "CLUSTER NODES" drops
            # the node ids this needs.
            reply = client.execute_command("CLUSTER", "NODES")
        return parse_cluster_nodes(str(reply))

    def role(self, node: RedisServer) -> str:
        """``master`` or ``slave`` as the node itself says (``ROLE``); ``down`` if silent."""
        if not node.running:
            return "down"
        try:
            with self._client(node) as client:
                reply = client.execute_command("ROLE")
        except redis.RedisError:
            return "down"
        return str(reply[0])

    def _any_view(self) -> list[ClusterNode]:
        for node in self.nodes:
            if node.running:
                with contextlib.suppress(redis.RedisError):
                    return self.view(node)
        raise ServerError("no node of the Redis Cluster answers")

    def primaries(self) -> list[RedisServer]:
        """The running primaries that serve slots, by the nodes' own word (``ROLE``)."""
        serving = {n.port for n in self._any_view() if n.is_primary and n.slots}
        return [n for n in self.nodes if n.port in serving and self.role(n) == "master"]

    def replicas_of(self, primary: RedisServer) -> list[RedisServer]:
        view = self._any_view()
        ids = {n.node_id for n in view if n.port == primary.port}
        return [self.node(n.port) for n in view if n.primary_id in ids]

    def keyslot(self, key: str) -> int:
        with self._client(self._first_running()) as client:
            return int(client.execute_command("CLUSTER KEYSLOT", key))

    def primary_for(self, key: str) -> RedisServer:
        """The primary serving ``key``'s slot, as the cluster sees it now."""
        slot = self.keyslot(key)
        for entry in self._any_view():
            if entry.is_primary and not entry.failed and entry.owns(slot):
                return self.node(entry.port)
        raise ServerError(f"no primary serves slot {slot} of {key!r} right now")

    def _first_running(self) -> RedisServer:
        for node in self.nodes:
            if node.running:
                return node
        raise ServerError("no node of the Redis Cluster is running")

    # --- faults -------------------------------------------------------------------------

    def kill(self, node: RedisServer) -> None:
        """SIGKILL ``node`` (a crash: what it did not replicate is gone)."""
        node.kill()
        log.info("killed redis node port=%s", node.port)

    def pause(self, node: RedisServer) -> None:
        node.pause()
        log.info("paused redis node port=%s", node.port)

    def resume(self, node: RedisServer) -> None:
        node.resume()
        log.info("resumed redis node port=%s", node.port)

    def restart(self, node: RedisServer) -> None:
        """Start a killed or stopped node again (same port, data and cluster identity)."""
        node.resume()
        node.stop()
        node.start()

    # --- waiting ------------------------------------------------------------------------

    def _health(self) -> str | None:
        """None when healthy, else what is not yet right."""
        running = [n for n in self.nodes if n.running]
        for node in running:
            try:
                with self._client(node) as client:
                    info = str(client.execute_command("CLUSTER", "INFO"))
            except redis.RedisError as exc:
                return f"node {node.port} does not answer: {exc}"
            if "cluster_state:ok" not in info:
                return f"node {node.port}: cluster state is not ok"
        view = self._any_view()
        covered = sum(hi - lo + 1 for n in view if n.is_primary for lo, hi in n.slots)
        if covered != SLOTS:
            return f"{covered} of {SLOTS} slots served"
        ports = {n.port for n in running}
        for entry in view:
            if entry.port in ports and entry.failed:
                return f"node {entry.port} is still flagged {sorted(entry.flags)}"
            if entry.is_primary and entry.slots:
                live = [r for r in view if r.primary_id == entry.node_id and r.port in ports]
                if len(live) < self.replicas:
                    return f"primary {entry.port} has {len(live)} live replica(s)"
                for replica in live:
                    with self._client(self.node(replica.port)) as client:
                        link = client.info("replication").get("master_link_status")
                    if link != "up":
                        return f"replica {replica.port}: master_link_status={link}"
        return None

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Wait until every running node agrees the cluster is ok and replicas are synced.

        Needs every primary to have a live replica: after a kill, restart the node first.
        """
        self._wait(self._health, timeout, "the Redis Cluster to be healthy")

    def wait_primary_replaced(self, old: RedisServer, timeout: float = 30.0) -> RedisServer:
        """Wait until a replica of ``old`` serves ``old``'s slots; that replica."""
        candidates = self.replicas_of(old)
        found: list[RedisServer] = []

        def promoted() -> str | None:
            for node in candidates:
                if self.role(node) == "master":
                    for entry in self.view(node):
                        if entry.port == node.port and entry.slots:
                            found.append(node)
                            return None
            return f"no replica of {old.port} ({[c.port for c in candidates]}) promoted yet"

        self._wait(promoted, timeout, f"a replica of primary {old.port} to take over")
        return found[0]

    def _wait(self, problem: Callable[[], str | None], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        last: str | None = "not checked"
        while time.monotonic() < deadline:
            try:
                last = problem()
            except (redis.RedisError, ServerError) as exc:
                last = str(exc)
            if last is None:
                return
            time.sleep(0.1)
        tails = "\n".join(f"--- {name}\n{tail[-1500:]}" for name, tail in self.logs())
        raise ServerError(f"waited {timeout:.0f} s for {what}; last: {last}\n{tails}")
