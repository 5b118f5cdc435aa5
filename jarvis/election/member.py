"""A member: one running replica that registers itself and owns its fair share.

Everything happens on the member's worker thread (but the heartbeats, see below).
kazoo's threads only queue things for it: connection states (SUSPENDED, LOST,
CONNECTED) and watch events (a path changed). The worker refreshes the part of its
:class:`Snapshot` that changed, then reconciles:

1. what it owns against the owner nodes (an owner node that vanished or changed hands
   means ``on_lost``; an owner node of its own session that it did not know about is
   adopted),
2. releases: partitions whose listener finished (``release_done``) get their owner node
   deleted; a member over its quota starts releasing the surplus at a bounded rate; a
   draining member releases everything,
3. acquisitions: free partitions that the plan gives to this member (see ``balance``) are
   created as ephemeral owner nodes at once, in one pipelined round; the epoch is the
   new node's ``czxid``.

Connection states: SUSPENDED changes nothing for the partitions (they keep committing
until the step-down below); LOST calls ``on_suspended`` then ``on_lost`` for every
partition, and ``on_resumed`` once a new session is connected. A
:class:`~jarvis.election.watchdog.ConnectionWatchdog` leaves a server that has not
answered for a third of the session timeout, so the session moves to another server of
the ensemble before the step-down below. Independently, the member steps down
(``on_lost`` for every partition) once it has heard nothing from ZooKeeper for two
thirds of the session timeout, before the server can expire the session and give the
partitions to someone else; heartbeats keep that clock fresh from a thread of their own
(:class:`~jarvis.election.liveness.Liveness`), so a worker busy with a long round is
never taken for a silent ZooKeeper. After stepping down
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
import queue
import threading
import time
from collections.abc import Callable, Mapping

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState, WatchedEvent

from jarvis.election.balance import MoveLimiter
from jarvis.election.events import (
    Event,
    HandOff,
    Refused,
    ReleaseDone,
    ServerLeft,
    StartDrain,
    StateChanged,
    Stop,
    Watched,
)
from jarvis.election.holdings import DrainOutcome, Holdings
from jarvis.election.leases import LeaseKeeper
from jarvis.election.listener import OwnershipListener
from jarvis.election.liveness import Liveness
from jarvis.election.measured import MeasuredLoads
from jarvis.election.nodes import MemberNode, encode
from jarvis.election.options import MemberOptions
from jarvis.election.paths import ClusterPaths
from jarvis.election.registration import register
from jarvis.election.snapshot import Snapshot, gather
from jarvis.election.watchdog import ConnectionWatchdog
from jarvis.election.worker_state import WorkerState
from jarvis.errors import ConfigError, ElectionError, ServerError
from jarvis.repeats import RepeatedErrors

__all__ = ["Member"]

log = logging.getLogger(__name__)

#: A failing load sampler is logged once with a count, not once per interval.
_SAMPLE_FAILURES = RepeatedErrors(log)

_ZK_ERRORS = (KazooException, KazooTimeoutError, ElectionError)


class Member:
    """One replica of Jarvis in a cluster: registers itself and owns partitions.

    ``options`` says who the member is and sets its timers (see
    :class:`~jarvis.election.options.MemberOptions`); ``listener`` is told what it
    acquires, must release, or has lost. ``on_connection`` (optional, for metrics) is
    called on the worker thread with ``"suspended"``, ``"lost"``, ``"connected"``,
    ``"stepped_down"`` or ``"server_left"`` (the watchdog left a silent server); it must
    return at once. ``loads`` (optional) returns the open tasks of each partition this
    member runs: given it, the member measures its partitions' weights and publishes them
    (:mod:`jarvis.election.measured`); it is called on the worker thread and must return
    at once. ``clock`` is the member's monotonic clock.
    """

    def __init__(
        self,
        options: MemberOptions,
        listener: OwnershipListener | None = None,
        *,
        on_connection: Callable[[str], None] | None = None,
        loads: Callable[[], Mapping[str, float]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.member_id = options.member_id
        self.zone = options.zone
        self.cluster = options.cluster
        self._paths = ClusterPaths(options.cluster)
        self._clock = clock
        self._on_connection_change = on_connection
        self._op_timeout = options.op_timeout
        try:
            self._client = KazooClient(
                hosts=options.hosts,
                timeout=options.session_timeout,
                auth_data=None if options.auth_data is None else list(options.auth_data),
                default_acl=None if options.default_acl is None else list(options.default_acl),
                connection_retry={
                    "max_tries": -1,
                    "delay": 0.05,
                    "max_delay": max(1.0, options.session_timeout / 4.0),
                },
            )
        except (ValueError, KazooException) as exc:
            raise ConfigError(f"invalid ZooKeeper hosts {options.hosts!r}: {exc}") from exc
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._snapshot = Snapshot(
            self._client, self._paths, self.member_id, self._on_watch, self._op_timeout, clock
        )
        self._thread: threading.Thread | None = None
        # Leaves a server that stopped answering, whatever the worker is sending.
        self._watchdog = ConnectionWatchdog(
            self._client,
            options.session_timeout,
            name=self.member_id,
            on_drop=lambda server: self._events.put(ServerLeft(*server)),
        )
        self._holdings = Holdings(self.member_id, listener, clock, options.cooldown)
        self._leases = LeaseKeeper(
            self._client,
            self._paths,
            self.member_id,
            MemberNode(
                zone=options.zone,
                host=options.host_name,
                pid=options.process_id,
                version=options.version,
                max_partitions=options.max_partitions,
            ),
            self._snapshot,
            self._holdings,
            MoveLimiter(options.max_moves_per_interval, options.rebalance_interval, clock),
            timeout=self._op_timeout,
            cooldown=options.cooldown,
            orphan_grace=options.grace,
            clock=clock,
        )
        #: The worker's own flags and timers.
        self._state = WorkerState()
        #: When ZooKeeper last surely heard from us (drives the step-down).
        self._liveness = Liveness(
            self._client,
            self._paths.member(self.member_id),
            options.heartbeat_interval,
            clock,
            name=self.member_id,
        )
        self._measured = (
            None
            if loads is None
            else MeasuredLoads(
                loads,
                unit=options.weight_unit,
                half_life=options.weight_half_life,
                publish_interval=options.weight_publish_interval,
            )
        )

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
        self._state.connected = True
        self._liveness.heard(now)
        self._state.acquire_after = now + self.options.settle_delay
        self._state.settled_by = now + 5 * self.options.settle_delay
        self._thread = threading.Thread(
            target=self._run, name=f"jarvis-member-{self.member_id}", daemon=True
        )
        self._thread.start()
        self._watchdog.start()
        self._liveness.start()
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
        self._events.put(HandOff(partition_id))

    def release_done(self, partition_id: str, epoch: int) -> None:
        """The listener has stopped and flushed ownership ``epoch`` of the partition:
        delete its owner node (only if it is still that ownership's node)."""
        self._events.put(ReleaseDone(partition_id, epoch))

    def refuse(self, partition_id: str, epoch: int, reason: str) -> None:
        """The listener cannot run ownership ``epoch`` (its engine cannot be built):
        delete the owner node as a handoff, so another member takes the partition, and
        take it back only after a backoff (see :class:`MemberOptions`)."""
        self._events.put(Refused(partition_id, epoch, reason))

    def drain(self, timeout: float) -> DrainOutcome:
        """Mark draining, release every partition, and wait until none is owned.

        The outcome says whether that happened within ``timeout`` and which partitions
        were lost (taken by session expiry, owner node gone) rather than handed over.
        """
        self._holdings.request_drain()
        self._events.put(StartDrain())
        return self._holdings.wait_drained(timeout)

    def stop(self) -> None:
        """Stop acting (``on_lost`` for what is still owned) and close the session."""
        self._watchdog.stop()
        self._liveness.stop()
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
                self._state.retry_at = self._clock() + min(0.5, self.options.rebalance_interval)
            except Exception:
                log.exception("member %s: unexpected error in the worker", self.member_id)
                self._snapshot.invalidate()
                self._state.retry_at = self._clock() + self.options.rebalance_interval

    def _next_wakeup(self) -> float:
        now = self._clock()
        step_down_at = self._liveness.last_ok + self.options.step_down_after
        times = self._state.wakeups(step_down_at if len(self._holdings) else None)
        return min((t for t in times if t > now), default=now + 1.0)

    def _handle(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            self._on_connection(event.state)
        elif isinstance(event, Watched):
            self._snapshot.mark_stale(event.path)
        elif isinstance(event, HandOff):
            self._holdings.begin_release(event.partition, handoff=True)
        elif isinstance(event, ReleaseDone):
            self._holdings.release_done(event.partition, event.epoch)
        elif isinstance(event, Refused):
            self._holdings.refuse(event.partition, event.epoch, event.reason)
        elif isinstance(event, StartDrain):
            self._holdings.begin_drain("drain()")
        elif isinstance(event, ServerLeft):
            self._report_connection("server_left")

    def _on_connection(self, state: KazooState) -> None:
        log.info("member %s: connection %s", self.member_id, state)
        self._report_connection(str(state).lower())
        if state == KazooState.SUSPENDED:
            # Partitions keep committing: nobody else can own them before the session
            # expires, the step-down timer lets go well before that, and Redis fences
            # whatever comes later (docs/architecture.md, "A suspended connection").
            self._state.connected = False
        elif state == KazooState.LOST:
            self._state.connected = False
            self._pause()
            self._holdings.lose_all("session lost")
            self._snapshot.clear()
            self._state.needs_register = True
            self._snapshot.invalidate()
        elif state == KazooState.CONNECTED:
            self._state.connected = True
            self._liveness.heard(self._clock())
            self._snapshot.invalidate()
            if self._state.suspended:
                self._state.suspended = False
                self._holdings.resumed()

    def _pause(self) -> None:
        if not self._state.suspended:
            self._state.suspended = True
            self._holdings.suspended()

    def _tick(self) -> None:
        now = self._clock()
        if len(self._holdings) and self._silent(now):
            log.warning(
                "member %s: no answer from ZooKeeper for %.1f s, stepping down",
                self.member_id,
                now - self._liveness.last_ok,
            )
            self._step_down("stepped down (ZooKeeper silent)")
        if now >= self._state.next_rebalance:
            self._state.next_rebalance = now + self.options.rebalance_interval
        if not self._state.connected:
            return
        if self._state.needs_register:
            self._leases.session = register(
                self._client, self._paths, self.member_id, self._leases.member_node(), None
            )
            self._state.published_draining = self._holdings.draining
            self._state.needs_register = False
            self._snapshot.invalidate()
        if self._snapshot.refresh():
            self._liveness.heard(now)
        if self.member_id not in self._snapshot.members:
            log.warning("member %s: own member node is gone, registering again", self.member_id)
            self._state.needs_register = True
            return
        request = self._snapshot.drain_request
        if request is not None and request.session == self._leases.session:
            self._holdings.begin_drain("a drain request")
        self._leases.finish_releases()
        self._leases.reconcile()
        self._leases.finish_moves()
        self._publish_draining()
        self._measure(now)
        self._settle(now)
        if now >= self._state.acquire_after:
            self._leases.balance(now, may_acquire=not self._silent(now))

    def _silent(self, now: float) -> bool:
        """ZooKeeper has not answered for longer than the step-down delay."""
        return now - self._liveness.last_ok >= self.options.step_down_after

    def _step_down(self, why: str) -> None:
        """Stop acting for every partition at once (``on_lost``), keeping the session:
        owner nodes of this session are adopted again once ZooKeeper answers."""
        self._report_connection("stepped_down")
        self._holdings.lose_all(why)
        self._snapshot.invalidate()

    def _settle(self, now: float) -> None:
        """While settling, each newly seen member restarts the settle delay (up to a cap).

        Settling is for a cold start (members started together must see each other
        before taking anything). A member joining a running cluster, where partitions
        already have owners, does not settle: what is handed to it is taken at once, so
        a rolling restart does not leave released partitions waiting for the newcomer.
        """
        if now < self._state.acquire_after:
            snapshot = self._snapshot
            if len(snapshot.free()) < len(snapshot.partitions):
                self._state.acquire_after = now
                return
        state = self._state
        members = frozenset(self._snapshot.members)
        if members != state.seen_members:
            state.seen_members = members
            if now < state.acquire_after:
                state.acquire_after = min(now + self.options.settle_delay, state.settled_by)

    def _publish_draining(self) -> None:
        if self._holdings.draining and not self._state.published_draining:
            path = self._paths.member(self.member_id)
            data = encode(self._leases.member_node())
            gather([self._client.set_async(path, data)], self._op_timeout)
            self._state.published_draining = True

    def _measure(self, now: float) -> None:
        """Sample the partitions' loads once per rebalance interval; publish their
        weights in the member node when they changed (at most once per publish
        interval)."""
        measured = self._measured
        if measured is None or now < self._state.next_measure:
            return
        self._state.next_measure = now + self.options.rebalance_interval
        try:
            measured.update(self._holdings.ids(), now, self._leases.measured_weights())
        except Exception as exc:
            _SAMPLE_FAILURES.error(exc, "member %s: sampling the partitions' loads", self.member_id)
            return
        weights = measured.due(now)
        if weights is None:
            return
        self._leases.loads = weights
        path = self._paths.member(self.member_id)
        gather([self._client.set_async(path, encode(self._leases.member_node()))], self._op_timeout)
        measured.mark_published(weights, now)
        self._snapshot.set_member(self.member_id, self._leases.member_node())

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
        if self._state.connected and self._snapshot.drain_request is not None:
            try:
                self._client.delete_async(self._paths.drain(self.member_id)).get(
                    timeout=self._op_timeout
                )
            except (*_ZK_ERRORS,) as exc:
                log.debug("member %s: drain request not removed: %r", self.member_id, exc)
