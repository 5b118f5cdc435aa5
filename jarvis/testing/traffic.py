"""Simulated traffic for a local cluster: orders and couriers, store work and associates.

A background thread plays the outside world: couriers come online in each city, orders
arrive at a steady rate, and whatever Jarvis assigns is picked up and delivered a moment
later (the simulator follows each city's out stream), which frees the courier again.
Every loop is bounded in time; :meth:`CityTraffic.stop` ends it. All traffic goes to the
local Redis of the harness (``redis_mode="cluster"``: its Redis Cluster, each event
confirmed by a replica like any producer's).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import redis

from jarvis.config import Settings
from jarvis.connections import redis_client, replication
from jarvis.errors import JarvisError, NotClaimedError
from jarvis.models.city import Courier, Order
from jarvis.models.events import (
    CourierMoved,
    CourierOnline,
    Event,
    OrderCreated,
    OrderDelivered,
    OrderPickedUp,
)
from jarvis.models.geo import Point
from jarvis.models.work import Associate, WorkItem
from jarvis.repeats import RepeatedErrors
from jarvis.store.decisions import read_decisions
from jarvis.store.keys import DEFAULT_NAMESPACE
from jarvis.store.producer import Producer
from jarvis.store.runner import ScriptRunner
from jarvis.store.work.queue import Claim, WorkQueue

__all__ = ["CityTraffic", "StoreTraffic", "StoreTrafficStats", "TrafficStats"]

log = logging.getLogger(__name__)


@dataclass
class TrafficStats:
    orders: int = 0
    couriers: int = 0
    assignments_seen: int = 0
    delivered: int = 0


class _Generator:
    """A background loop calling ``step(dt, new)`` every ``interval`` until stopped.

    ``new`` is false once :meth:`quiet` was called: no new work, but what is under way
    goes on. A step that fails on Redis (restarts are among the faults under test) is
    logged and the loop goes on.
    """

    name = "jarvis-traffic"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._quiet = threading.Event()
        self._thread: threading.Thread | None = None
        # A failover fails every step for seconds: once, then a count every 10 s.
        self._failures = RepeatedErrors(log, every=10.0, level=logging.WARNING, traceback=False)

    def step(self, dt: float, new: bool = True) -> None:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Runs once in :meth:`start`, before the loop."""

    def start(self, interval: float = 0.1) -> None:
        self._prepare()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name=self.name, daemon=True
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        last = time.monotonic()
        while not self._stop.wait(interval):
            now = time.monotonic()
            try:
                self.step(now - last, new=not self._quiet.is_set())
            except (JarvisError, redis.RedisError, OSError) as exc:
                self._failures.error(exc, "%s: step failed (will retry)", self.name)
            last = now

    def quiet(self) -> None:
        """Stop creating new work; keep serving what is under way."""
        self._quiet.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


class CityTraffic(_Generator):
    """Orders and couriers for ``cities``; assignments are picked up and delivered."""

    def __init__(
        self,
        redis_url: str,
        cities: Sequence[str],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        couriers_per_city: int = 6,
        orders_per_second: float = 2.0,
        delivery_seconds: float = 1.5,
        seed: int = 7,
        clock: Callable[[], float] = time.time,
        redis_mode: Literal["standalone", "cluster"] = "standalone",
    ) -> None:
        settings = Settings(redis=redis_url, redis_mode=redis_mode)
        self.client = redis_client(settings)
        # Like a producer in production: an event counts as sent once replicated.
        self.producer = Producer(self.client, namespace, replication=replication(settings))
        self.cities = list(cities)
        self.namespace = namespace
        self.couriers_per_city = couriers_per_city
        self.orders_per_second = orders_per_second
        self.delivery_seconds = delivery_seconds
        self.random = random.Random(seed)
        self.clock = clock
        self.stats = TrafficStats()
        super().__init__()
        self._cursor = {city: "-" for city in self.cities}
        self._centre = {
            city: (48.0 + self.random.uniform(-5, 5), 2.0 + self.random.uniform(-5, 5))
            for city in self.cities
        }
        self._pending: list[tuple[float, Event]] = []  # (when, event) to send later

    # --- events -----------------------------------------------------------------------

    def _point(self, city: str, spread_km: float = 2.0) -> Point:
        lat, lon = self._centre[city]
        d = spread_km / 111.0
        return Point(lat=lat + self.random.uniform(-d, d), lon=lon + self.random.uniform(-d, d))

    def _eid(self) -> str:
        return uuid.uuid4().hex

    def couriers_online(self) -> None:
        events: list[Event] = []
        now = self.clock()
        for city in self.cities:
            for i in range(self.couriers_per_city):
                courier = Courier(
                    id=f"{city}-c{i}", position=self._point(city), capacity=1 + (i % 2)
                )
                events.append(
                    CourierOnline(id=self._eid(), partition=city, at=now, courier=courier)
                )
        self.producer.submit_many(events)
        self.stats.couriers += len(events)

    def _new_orders(self, dt: float) -> list[Event]:
        events: list[Event] = []
        now = self.clock()
        for city in self.cities:
            expected = self.orders_per_second * dt
            n = int(expected) + (1 if self.random.random() < expected % 1 else 0)
            for _ in range(n):
                self.stats.orders += 1
                order = Order(
                    id=f"{city}-o{self.stats.orders}",
                    pickup=self._point(city),
                    dropoff=self._point(city),
                    created_at=now,
                    ready_at=now,
                    priority=self.random.choice([0, 0, 0, 1, 5]),
                )
                events.append(OrderCreated(id=self._eid(), partition=city, at=now, order=order))
        return events

    def _follow(self) -> list[Event]:
        """Schedule pick-up and delivery of new assignments; return what is due now."""
        now = self.clock()
        for city in self.cities:
            for decision in read_decisions(
                self.client, city, after=self._cursor[city], namespace=self.namespace
            ):
                self._cursor[city] = decision.id
                if decision.type != "assignment" or decision.task is None:
                    continue
                self.stats.assignments_seen += 1
                task = decision.task
                pickup = OrderPickedUp(id=self._eid(), partition=city, at=now, order_id=task)
                self._pending.append((now + self.delivery_seconds / 3, pickup))
                done = OrderDelivered(id=self._eid(), partition=city, at=now, order_id=task)
                self._pending.append((now + self.delivery_seconds, done))
                worker = decision.worker or ""
                if worker and self.random.random() < 0.3:
                    moved = CourierMoved(
                        id=self._eid(),
                        partition=city,
                        at=now,
                        courier_id=worker,
                        position=self._point(city),
                    )
                    self._pending.append((now + self.delivery_seconds, moved))
        due = [e for when, e in self._pending if when <= now]
        self._pending = [(when, e) for when, e in self._pending if when > now]
        return due

    # --- the loop ---------------------------------------------------------------------

    name = "jarvis-city-traffic"

    def step(self, dt: float, new: bool = True) -> None:
        due = self._follow()
        events = (self._new_orders(dt) if new else []) + due
        if not events:
            return
        try:
            self.producer.submit_many(events)
        except (JarvisError, redis.RedisError, OSError):
            # Not acknowledged: send the pick-ups and deliveries again next step (event
            # ids make a repeat harmless); new orders that were not accepted are dropped.
            self._pending.extend((0.0, e) for e in due)
            raise
        self.stats.delivered += sum(isinstance(e, OrderDelivered) for e in due)

    def _prepare(self) -> None:
        self.couriers_online()

    def stop(self) -> None:
        super().stop()
        self.client.close()


@dataclass
class StoreTrafficStats:
    submitted: int = 0
    claimed: int = 0
    completed: int = 0
    #: Claims that were no longer ours at completion (lapsed and handed back, or gone
    #: with a failover): the item is someone else's to finish, never retried by us.
    refused: int = 0


class StoreTraffic(_Generator):
    """Work items for ``stores``; associates (some remote) get work and complete it."""

    def __init__(
        self,
        redis_url: str,
        stores: Sequence[str],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        associates_per_store: int = 3,
        items_per_second: float = 2.0,
        seed: int = 11,
        redis_mode: Literal["standalone", "cluster"] = "standalone",
    ) -> None:
        settings = Settings(redis=redis_url, redis_mode=redis_mode)
        self.client = redis_client(settings)
        scripts = ScriptRunner(self.client, replication=replication(settings))
        self.work = WorkQueue(self.client, namespace, scripts=scripts)
        self.stores = list(stores)
        self.items_per_second = items_per_second
        self.random = random.Random(seed)
        self.stats = StoreTrafficStats()
        self.associates: list[Associate] = []
        for store in self.stores:
            for i in range(associates_per_store):
                self.associates.append(
                    Associate(
                        id=f"{store}-a{i}", home_store=store, roles=frozenset({"pick", "pack"})
                    )
                )
        self.associates.append(
            Associate(
                id="remote-1",
                home_store=self.stores[0],
                stores=frozenset(self.stores),
                roles=frozenset({"pack"}),
                remote=True,
            )
        )
        self._held: list[tuple[float, Claim]] = []
        super().__init__()

    def queued(self) -> int:
        try:
            return sum(self.work.counts(store).get("queued", 0) for store in self.stores)
        except JarvisError:
            return -1

    name = "jarvis-store-traffic"

    def step(self, dt: float, new: bool = True) -> None:
        now = time.time()
        if new:
            for store in self.stores:
                expected = self.items_per_second * dt
                n = int(expected) + (1 if self.random.random() < expected % 1 else 0)
                for _ in range(n):
                    self.stats.submitted += 1
                    self.work.enqueue(
                        WorkItem(
                            id=f"{store}-w{self.stats.submitted}",
                            store=store,
                            role=self.random.choice(["pick", "pack"]),
                            remotable=self.random.random() < 0.4,
                            due_at=now + self.random.uniform(60, 600),
                            priority=self.random.choice([0, 0, 10]),
                            created_at=now,
                        )
                    )
        busy = {claim.associate for _, claim in self._held}
        for associate in self.associates:
            if associate.id not in busy and self.random.random() < 0.5:
                claim = self.work.get_work(associate.id)
                if claim is not None:
                    self.stats.claimed += 1
                    self._held.append((now + self.random.uniform(0.2, 1.0), claim))
        still = []
        failed: JarvisError | None = None
        for until, claim in self._held:
            if until > now:
                still.append((until, claim))
                continue
            try:
                self.work.complete(claim.store, claim.item.id, claim.associate, claim.token)
            except NotClaimedError as exc:
                # Final: retrying cannot make the claim ours again, and must not hold up
                # every other associate's completion.
                self.stats.refused += 1
                log.info("%s: %s: completion refused: %s", self.name, claim.item.id, exc)
            except JarvisError as exc:
                still.append((until, claim))  # outcome unknown or Redis away: try again
                failed = exc
            else:
                self.stats.completed += 1
        self._held = still
        if failed is not None:
            raise failed

    def _prepare(self) -> None:
        for associate in self.associates:
            self.work.register_associate(associate)

    def stop(self) -> None:
        super().stop()
        self.client.close()
