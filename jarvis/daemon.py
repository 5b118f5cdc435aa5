"""`jarvis run`: one member process.

Start order matters for liveness: Redis is reached first, then the supervisor and its
actors are ready, and only then does the member join ZooKeeper and take partitions, so a
new member never receives a partition it cannot run. A graceful stop reverses it: the
member drains (every partition finishes its tick and is handed over), then leaves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import redis

from jarvis import __version__, metrics
from jarvis.actors import (
    EngineFactory,
    Gate,
    LostFlags,
    MemberSupervisor,
    Scheduler,
    SupervisorListener,
)
from jarvis.actors.city import CityEngine
from jarvis.actors.engine import PartitionEngine
from jarvis.actors.loads import LOADS
from jarvis.config import Settings, mask_url
from jarvis.connections import ranking_weights, redis_client, replication, zk_auth
from jarvis.election import DrainOutcome, Member, MemberOptions
from jarvis.errors import ConfigError, ServerError
from jarvis.models import city_config
from jarvis.models.rules import Rules, load_rules
from jarvis.store.city import CityStore
from jarvis.store.runner import ScriptRunner

if TYPE_CHECKING:
    from jarvis.api import HttpServer
    from jarvis.api.schemas import ReadyOut
    from jarvis.election import ClusterView

__all__ = ["Daemon"]

log = logging.getLogger(__name__)


class _MemberLink:
    """The supervisor's way to the member, which is built after it (see ``start``)."""

    def __init__(self) -> None:
        self.member: Member | None = None

    def release_done(self, partition_id: str, epoch: int) -> None:
        if self.member is not None:
            self.member.release_done(partition_id, epoch)

    def refuse(self, partition_id: str, epoch: int, reason: str) -> None:
        if self.member is not None:
            self.member.refuse(partition_id, epoch, reason)


class Daemon:
    """A running member: Redis connection, supervisor with partition actors, ZooKeeper member."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rules: Rules | None = load_rules(settings.rules) if settings.rules else None
        self.redis = redis_client(settings)
        #: Every script of every partition, each write confirmed by settings.min_replicas.
        self.scripts = ScriptRunner(self.redis, replication=replication(settings))
        self.gate = Gate()
        self.lost = LostFlags()
        self.stopped = threading.Event()
        self.member: Member | None = None
        self.supervisor: Any = None
        self.scheduler: Scheduler | None = None
        self.http: HttpServer | None = None  # when settings.http is set

    def engine_factory(self) -> EngineFactory:
        settings, client, rules, scripts = self.settings, self.redis, self.rules, self.scripts

        def build(partition: str, kind: str, config: Mapping[str, Any]) -> PartitionEngine:
            if kind == "city":
                store = CityStore(client, partition, settings.namespace, scripts=scripts)
                return CityEngine(store, city_config(config), rules=rules)
            if kind == "store":
                from jarvis.actors.store import StoreEngine

                return StoreEngine.build(client, partition, settings, rules, config, scripts)
            raise ConfigError(f"partition {partition!r}: unknown kind {kind!r}")

        return build

    def start(self) -> None:
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            raise ServerError(f"Redis at {mask_url(self.settings.redis)}: {exc}") from exc
        self._start_http()
        link = _MemberLink()
        # At most tick_workers ticks at once, each with one connection of the Redis pool.
        scheduler = Scheduler(self.settings.tick_workers)
        self.scheduler = scheduler
        metrics.TICKS_WAITING.set_function(scheduler.waiting)
        metrics.TICK_LAG_SECONDS.set_function(scheduler.lag)
        self.supervisor = MemberSupervisor.start(
            self.engine_factory(),
            link,
            interval=self.settings.tick,
            gate=self.gate,
            lost=self.lost,
            scheduler=scheduler,
        )
        auth = zk_auth(self.settings)
        options = MemberOptions(
            self.settings.zk,
            self.settings.cluster,
            self.settings.member,
            self.settings.zone,
            session_timeout=self.settings.session_timeout,
            max_moves_per_interval=self.settings.max_moves_per_interval,
            rebalance_interval=self.settings.rebalance_interval,
            version=self.settings.member_version or __version__,
            max_partitions=self.settings.max_partitions,
            weight_unit=self.settings.weight_unit,
            auth_data=tuple(auth.auth_data) if auth else None,
            default_acl=tuple(auth.acl) if auth else None,
        )
        member = Member(
            options,
            SupervisorListener(self.supervisor, self.gate, self.lost),
            on_connection=metrics.count_connection_state,
            loads=LOADS.snapshot if self.settings.balance_weights == "measured" else None,
        )
        link.member = member
        self.member = member
        member.start()
        log.info(
            "member %s (zone %s) running: zk=%s cluster=%s zk_acl=%s tick=%ss "
            "tick_workers=%s max_partitions=%s",
            self.settings.member,
            self.settings.zone,
            self.settings.zk,
            self.settings.cluster,
            "digest" if auth else "open",
            self.settings.tick,
            self.settings.tick_workers,
            self.settings.max_partitions,
            extra={"member": self.settings.member},
        )

    def stop(self, graceful: bool = True) -> bool:
        """Drain (when ``graceful``), leave ZooKeeper, stop the actors.

        True when the drain really happened: every partition handed over within the
        drain timeout, none taken away meanwhile (by session expiry, say, while the
        process was paused). ``jarvis run`` exits non-zero otherwise.
        """
        drained = True
        if self.member is not None:
            if graceful:
                drained = self._drain(self.member)
            self.member.stop()
        if self.supervisor is not None:
            self.supervisor.stop(block=True, timeout=15)
        self._stop_http()
        self.redis.close()
        self.stopped.set()
        return drained

    def _drain(self, member: Member) -> bool:
        outcome: DrainOutcome = member.drain(self.settings.drain_timeout)
        if not outcome.finished:
            log.warning(
                "drain did not finish within %ss; still owned: %s",
                self.settings.drain_timeout,
                ", ".join(sorted(member.owned())) or "nothing",
            )
        if outcome.lost:
            log.error(
                "drain did not hand over %d partition(s), they were lost instead "
                "(session expired or owner node taken): %s",
                len(outcome.lost),
                ", ".join(outcome.lost),
            )
        return outcome.graceful

    # --- the HTTP interface (settings.http) -------------------------------------------

    def _start_http(self) -> None:
        """Serve the HTTP interface on ``settings.http``; nothing when it is unset.

        Started before the member joins ZooKeeper (a port already taken fails the start
        before any partition is taken); ``/readyz`` says 503 until the member is
        connected, and again while it drains.
        """
        if self.settings.http is None:
            return
        from jarvis.api import ApiContext, HttpServer, create_app
        from jarvis.api.security import HttpPolicy
        from jarvis.store.producer import Producer
        from jarvis.store.work.batch import WorkBatch
        from jarvis.store.work.queue import WorkQueue

        namespace = self.settings.namespace
        work = WorkQueue(
            self.redis,
            namespace,
            claim_ttl=self.settings.claim_ttl,
            scripts=self.scripts,
            max_attempts=self.settings.work_max_attempts,
        )
        context = ApiContext(
            work=work,
            producer=Producer(self.redis, namespace, replication=self.scripts.replication),
            readiness=self._readiness,
            partitions=lambda: [row.as_dict() for row in self._view().partitions()],
            members=lambda: [row.as_dict() for row in self._view().members()],
            batch=WorkBatch(work),
            policy=HttpPolicy(
                tokens=self.settings.http_token_values(),
                read_open=self.settings.http_read_open,
                max_body=self.settings.http_max_body,
            ),
            max_batch=self.settings.http_max_batch,
            ranking=ranking_weights(self.settings),
        )
        self.http = HttpServer(create_app(context), self.settings.http)
        self.http.start()

    def _stop_http(self) -> None:
        if self.http is not None:
            self.http.stop()
            self.http = None

    def _readiness(self) -> ReadyOut:
        from jarvis.api.schemas import ReadyOut

        member = self.member
        zookeeper = member is not None and bool(member.client.connected)
        try:
            reachable = bool(self.redis.ping())
        except redis.RedisError:
            reachable = False
        draining = member is not None and member.draining
        lag = self.scheduler.lag() if self.scheduler is not None else 0.0
        return ReadyOut(
            ready=zookeeper and reachable and not draining,
            zookeeper=zookeeper,
            redis=reachable,
            draining=draining,
            # Over capacity: the oldest waiting tick is late by more than a tick interval
            # (every partition still ticks, at a lower rate). Still ready: get-work and
            # events need no tick.
            overloaded=lag > self.settings.tick,
            tick_lag_seconds=round(lag, 3),
            partitions=len(member.owned()) if member is not None else 0,
            max_partitions=self.settings.max_partitions,
        )

    def _view(self) -> ClusterView:
        from jarvis.election import ClusterView

        if self.member is None:
            raise ServerError("not connected to ZooKeeper yet")
        return ClusterView(self.member.client, self.settings.cluster)
