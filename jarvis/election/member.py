"""A member: one running replica that registers itself and owns its fair share.

Everything happens on the member's worker thread. kazoo's threads only queue things for
it: connection states (SUSPENDED, LOST, CONNECTED), watch events (a path changed) and
heartbeat replies. The worker refreshes the part of its :class:`Snapshot` that changed,
then reconciles:

1. what it owns against the owner nodes (an owner node that vanished or changed hands
   means ``on_lost``; an owner node of its own session that it did not know about is
   adopted),
2. releases: partitions whose listener finished (``release_done``) get their owner node
   deleted; a member over its quota starts releasing the surplus at a bounded rate; a
   draining member releases everything,
3. acquisitions: free partitions that the plan gives to this member (see ``balance``) are
   created as ephemeral owner nodes at once, in one pipelined round; the epoch is the
   new node's ``czxid``.

Connection states: SUSPENDED calls ``on_suspended`` at once; back with the same session,
``on_resumed``; LOST calls ``on_lost`` for every partition. Independently, the member
steps down (``on_lost`` for every partition) once it has heard nothing from ZooKeeper
for two thirds of the session timeout, before the server can expire the session and give
the partitions to someone else; a heartbeat keeps that clock fresh. After stepping down
with the session intact, the member adopts its own owner nodes again (same epochs, since
nobody else can have owned them meanwhile) once ZooKeeper answers. The timer assumes the
server grants the requested ``session_timeout``: keep it within the server's bounds
(2 to 20 times its ``tickTime``), since the server clamps it silently.

A partition given up with :meth:`Member.release` is a handoff: the member names it (and
the epoch it gave up) in its own member node, in the same transaction that deletes the
owner node, so every member plans it for someone else and the successor takes it within
a few round trips.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState, WatchedEvent

from jarvis import __version__
from jarvis.election.balance import MoveLimiter
from jarvis.election.events import (
    Event,
    Heartbeat,
    Release,
    ReleaseDone,
    StartDrain,
    StateChanged,
    Stop,
    Watched,
)
from jarvis.election.holdings import Holdings
from jarvis.election.leases import LeaseKeeper
from jarvis.election.listener import OwnershipListener
from jarvis.election.nodes import MemberNode, encode
from jarvis.election.paths import ClusterPaths, check_name
from jarvis.election.registration import register
from jarvis.election.snapshot import Snapshot, gather
from jarvis.errors import ConfigError, ElectionError, ServerError

__all__ = ["Member"]

log = logging.getLogger(__name__)

#: Step down after this fraction of the session timeout without hearing from ZooKeeper.
STEP_DOWN_FRACTION = 2.0 / 3.0
_ZK_ERRORS = (KazooException, KazooTimeoutError, ElectionError)


class Member:
    """One replica of Jarvis in a cluster: registers itself and owns partitions.

    Tunables: ``session_timeout`` (s); ``rebalance_interval`` (s) and
    ``max_moves_per_interval`` bound how fast an over-quota member gives partitions
    away; ``settle_delay`` (s) lets members started together see each other before the
    first acquisition (it restarts while new members keep appearing, up to five times
    over); ``orphan_grace`` (s, default the session timeout) after which any member
    takes a partition that its planned taker left free (a taker that is stuck but not
    yet expired); ``handoff_cooldown`` (s) during which a partition handed off with
    ``release`` is not planned back to the member that released it.

    ``on_connection`` (optional, for metrics) is called on the worker thread with
    ``"suspended"``, ``"lost"``, ``"connected"`` or ``"stepped_down"``; it must return
    at once. ``auth_data`` and ``default_acl`` go to kazoo (see
    :class:`~jarvis.election.ZkAuth`): every node the member creates carries the ACL.
    """

    def __init__(
        self,
        hosts: str,
        cluster: str,
        member_id: str,
        zone: str,
        listener: OwnershipListener | None = None,
        *,
        version: str = __version__,
        session_timeout: float = 10.0,
        max_moves_per_interval: int = 10,
        rebalance_interval: float = 1.0,
        auth_data: list[tuple[str, str]] | None = None,
        default_acl: list[Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        settle_delay: float = 0.2,
        orphan_grace: float | None = None,
        handoff_cooldown: float | None = None,
        host: str | None = None,
        pid: int | None = None,
        on_connection: Callable[[str], None] | None = None,
    ) -> None:
        self.member_id = check_name(member_id, "member id")
        self.zone = check_name(zone, "zone")
        self.cluster = cluster
        self._paths = ClusterPaths(cluster)
        if session_timeout <= 0 or settle_delay < 0:
            raise ConfigError("session_timeout must be > 0 and settle_delay >= 0")
        self._node = MemberNode(
            zone=zone,
            host=host or socket.gethostname(),
            pid=os.getpid() if pid is None else pid,
            version=version,
        )
        self._clock = clock
        self._on_connection_change = on_connection
        self._session_timeout = session_timeout
        self._rebalance_interval = rebalance_interval
        self._settle_delay = settle_delay
        self._step_down_after = session_timeout * STEP_DOWN_FRACTION
        self._heartbeat_interval = session_timeout / 6.0
        # A ZooKeeper call never holds the worker longer than this, so the step-down
        # comes at most 2/3 + 1/6 of the session timeout after the last answer.
        self._op_timeout = max(0.2, session_timeout / 6.0)
        try:
            self._client = KazooClient(
                hosts=hosts,
                timeout=session_timeout,
                auth_data=auth_data,
                default_acl=default_acl,
                connection_retry={
                    "max_tries": -1,
                    "delay": 0.05,
                    "max_delay": max(1.0, session_timeout / 4.0),
                },
            )
        except (ValueError, KazooException) as exc:
            raise ConfigError(f"invalid ZooKeeper hosts {hosts!r}: {exc}") from exc
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._snapshot = Snapshot(
            self._client, self._paths, member_id, self._on_watch, self._op_timeout, clock
        )
        self._thread: threading.Thread | None = None

        self._holdings = Holdings(member_id, listener, clock)
        self._leases = LeaseKeeper(
            self._client,
            self._paths,
            member_id,
            self._node,
            self._snapshot,
            self._holdings,
            MoveLimiter(max_moves_per_interval, rebalance_interval, clock),
            timeout=self._op_timeout,
            cooldown=2 * rebalance_interval if handoff_cooldown is None else handoff_cooldown,
            orphan_grace=session_timeout if orphan_grace is None else orphan_grace,
            clock=clock,
        )
        # The worker's own state.
        self._connected = False
        self._suspended = False
        self._needs_register = False
        self._published_draining = False
        self._last_ok = clock()
        self._heartbeat_in_flight = False
        self._next_heartbeat = 0.0
        self._next_rebalance = 0.0
        self._acquire_after = 0.0
        self._settled_by = 0.0
        self._seen_members: frozenset[str] = frozenset()
        self._retry_at = 0.0

    # --- public API (any thread) ------------------------------------------------------

    @property
    def client(self) -> KazooClient:
        """The member's kazoo client (for fault-injection tests)."""
        return self._client

    @property
    def draining(self) -> bool:
        return self._holdings.draining

    def start(self, timeout: float = 15.0) -> None:
        """Connect, register the member node, and begin acquiring and balancing."""
        deadline = time.monotonic() + timeout
        try:
            self._client.start(timeout=timeout)
        except (KazooTimeoutError, KazooException) as exc:
            self._client.close()
            raise ServerError(f"cannot connect to ZooKeeper: {exc!r}") from exc
        self._client.add_listener(self._on_state)
        try:
            for path in (self._paths.members, self._paths.partitions, self._paths.drains):
                self._client.ensure_path(path)
            self._leases.session = register(
                self._client, self._paths, self.member_id, self._leases.member_node(), deadline
            )
        except BaseException:
            self._client.stop()
            self._client.close()
            raise
        now = self._clock()
        self._connected = True
        self._last_ok = now
        self._acquire_after = now + self._settle_delay
        self._settled_by = now + 5 * self._settle_delay
        self._thread = threading.Thread(
            target=self._run, name=f"jarvis-member-{self.member_id}", daemon=True
        )
        self._thread.start()
        log.info("member %s (zone %s) joined cluster %s", self.member_id, self.zone, self.cluster)

    def owned(self) -> dict[str, int]:
        """Partition id -> epoch (the czxid of this member's owner node)."""
        return self._holdings.owned()

    def wait_owned(
        self, predicate: Callable[[dict[str, int]], bool], timeout: float
    ) -> dict[str, int] | None:
        """Wait until ``predicate(owned())`` holds and return what is owned then; None if
        it did not hold within ``timeout`` seconds."""
        return self._holdings.wait_owned(predicate, timeout)

    def release(self, partition_id: str) -> None:
        """Ask to give one partition up (through ``on_release_requested``)."""
        self._events.put(Release(partition_id))

    def release_done(self, partition_id: str) -> None:
        """The listener has stopped and flushed the partition: delete its owner node."""
        self._events.put(ReleaseDone(partition_id))

    def drain(self, timeout: float) -> bool:
        """Mark draining, release every partition, and wait; True when all are released."""
        self._holdings.request_drain()
        self._events.put(StartDrain())
        return self._holdings.wait_drained(timeout)

    def stop(self) -> None:
        """Stop acting (``on_lost`` for what is still owned) and close the session."""
        if self._thread is not None:
            self._events.put(Stop())
            self._thread.join(timeout=2 * self._op_timeout + 1.0)
            self._thread = None
        try:
            self._client.stop()
            self._client.close()
        except (KazooException, KazooTimeoutError) as exc:
            log.warning("member %s: closing the ZooKeeper client failed: %r", self.member_id, exc)
        log.info("member %s stopped", self.member_id)

    # --- kazoo threads: queue and return ----------------------------------------------

    def _on_state(self, state: KazooState) -> None:
        self._events.put(StateChanged(state))

    def _on_watch(self, event: WatchedEvent) -> None:
        if event.path:  # path None: kazoo dropping watches on suspend (we refresh all)
            self._events.put(Watched(event.path))

    # --- worker -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            wait = min(1.0, max(0.0, self._next_wakeup() - self._clock()))
            batch: list[Event] = []
            try:
                batch.append(self._events.get(timeout=wait))
                while True:
                    batch.append(self._events.get_nowait())
            except queue.Empty:
                pass
            for event in batch:
                if isinstance(event, Stop):
                    self._shutdown()
                    return
                self._handle(event)
            try:
                self._tick()
            except _ZK_ERRORS as exc:
                log.info("member %s: ZooKeeper call failed, retrying: %r", self.member_id, exc)
                self._snapshot.invalidate()
                self._retry_at = self._clock() + min(0.5, self._rebalance_interval)
            except Exception:
                log.exception("member %s: unexpected error in the worker", self.member_id)
                self._snapshot.invalidate()
                self._retry_at = self._clock() + self._rebalance_interval

    def _next_wakeup(self) -> float:
        now = self._clock()
        times = [self._next_rebalance, self._retry_at, self._acquire_after]
        if self._connected:
            times.append(self._next_heartbeat)
        if len(self._holdings):
            times.append(self._last_ok + self._step_down_after)
        return min((t for t in times if t > now), default=now + 1.0)

    def _handle(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            self._on_connection(event.state)
        elif isinstance(event, Watched):
            self._snapshot.mark_stale(event.path)
        elif isinstance(event, Release):
            self._holdings.begin_release(event.partition, handoff=True)
        elif isinstance(event, ReleaseDone):
            self._holdings.done.add(event.partition)
        elif isinstance(event, StartDrain):
            self._holdings.begin_drain("drain()")
        elif isinstance(event, Heartbeat):
            self._heartbeat_in_flight = False
            if event.ok:
                self._last_ok = max(self._last_ok, event.sent_at)

    def _on_connection(self, state: KazooState) -> None:
        log.info("member %s: connection %s", self.member_id, state)
        self._report_connection(str(state).lower())
        if state == KazooState.SUSPENDED:
            self._connected = False
            self._pause()
        elif state == KazooState.LOST:
            self._connected = False
            self._pause()
            self._holdings.lose_all("session lost")
            self._snapshot.clear()
            self._needs_register = True
            self._snapshot.invalidate()
        elif state == KazooState.CONNECTED:
            self._connected = True
            self._last_ok = max(self._last_ok, self._clock())
            self._snapshot.invalidate()
            if self._suspended:
                self._suspended = False
                self._holdings.call("on_resumed")

    def _pause(self) -> None:
        if not self._suspended:
            self._suspended = True
            self._holdings.call("on_suspended")

    def _tick(self) -> None:
        now = self._clock()
        if len(self._holdings) and now - self._last_ok > self._step_down_after:
            log.warning(
                "member %s: no answer from ZooKeeper for %.1f s, stepping down",
                self.member_id,
                now - self._last_ok,
            )
            self._report_connection("stepped_down")
            self._holdings.lose_all("stepped down (ZooKeeper silent)")
            self._snapshot.invalidate()
        if now >= self._next_rebalance:
            self._next_rebalance = now + self._rebalance_interval
        if not self._connected:
            return
        self._heartbeat(now)
        if self._needs_register:
            self._leases.session = register(
                self._client, self._paths, self.member_id, self._leases.member_node(), None
            )
            self._published_draining = self._holdings.draining
            self._needs_register = False
            self._snapshot.invalidate()
        if self._snapshot.refresh():
            self._last_ok = max(self._last_ok, now)
        if self.member_id not in self._snapshot.members:
            log.warning("member %s: own member node is gone, registering again", self.member_id)
            self._needs_register = True
            return
        request = self._snapshot.drain_request
        if request is not None and request.session == self._leases.session:
            self._holdings.begin_drain("a drain request")
        self._leases.finish_releases()
        self._leases.reconcile()
        self._publish_draining()
        self._settle(now)
        if now >= self._acquire_after:
            self._leases.balance(now, may_acquire=now - self._last_ok < self._step_down_after)

    def _settle(self, now: float) -> None:
        """While settling, each newly seen member restarts the settle delay (up to a cap).

        Settling is for a cold start (members started together must see each other
        before taking anything). A member joining a running cluster, where partitions
        already have owners, does not settle: what is handed to it is taken at once, so
        a rolling restart does not leave released partitions waiting for the newcomer.
        """
        if now < self._acquire_after:
            snapshot = self._snapshot
            if len(snapshot.free()) < len(snapshot.partitions):
                self._acquire_after = now
                return
        members = frozenset(self._snapshot.members)
        if members != self._seen_members:
            self._seen_members = members
            if now < self._acquire_after:
                self._acquire_after = min(now + self._settle_delay, self._settled_by)

    def _heartbeat(self, now: float) -> None:
        if self._heartbeat_in_flight or now < self._next_heartbeat:
            return
        self._heartbeat_in_flight = True
        self._next_heartbeat = now + self._heartbeat_interval
        result = self._client.exists_async(self._paths.member(self.member_id))
        result.rawlink(lambda r: self._events.put(Heartbeat(now, bool(r.successful()))))

    def _publish_draining(self) -> None:
        if self._holdings.draining and not self._published_draining:
            path = self._paths.member(self.member_id)
            data = encode(self._leases.member_node())
            gather([self._client.set_async(path, data)], self._op_timeout)
            self._published_draining = True

    # --- helpers ----------------------------------------------------------------------

    def _report_connection(self, state: str) -> None:
        if self._on_connection_change is None:
            return
        try:
            self._on_connection_change(state)
        except Exception:
            log.exception("member %s: on_connection(%r) failed", self.member_id, state)

    def _shutdown(self) -> None:
        self._holdings.lose_all("member stopping", logging.INFO)
        if self._connected and self._snapshot.drain_request is not None:
            try:
                self._client.delete_async(self._paths.drain(self.member_id)).get(
                    timeout=self._op_timeout
                )
            except (*_ZK_ERRORS,) as exc:
                log.debug("member %s: drain request not removed: %r", self.member_id, exc)
