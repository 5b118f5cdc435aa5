"""A member with more partitions than Redis connections: ticks wait their turn on the
bounded tick workers, none fails; a burst of identical tick errors is a bounded number of
log lines (issue 14)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pykka
import pytest
import redis
from kazoo.client import KazooClient

from jarvis.actors import PartitionActor, PartitionEngine, Scheduler, TickReport
from jarvis.actors.city import CityEngine
from jarvis.actors.messages import Release, Tick
from jarvis.config import Settings
from jarvis.daemon import Daemon
from jarvis.election import PartitionRegistry
from jarvis.repeats import RepeatedErrors
from jarvis.store.city import CityStore
from tests.actors.conftest import CITY, Recorder, start_actor, tick_errors
from tests.faults import wait_for, wait_owned

STORES = 27
CITIES = 3
WAIT = 60.0


@pytest.fixture
def daemon(zk_hosts: str, redis_url: str, namespace: str, redis_mode: str) -> Iterator[Daemon]:
    settings = Settings(
        zk=zk_hosts,
        redis=redis_url,
        redis_mode=redis_mode,
        namespace=namespace,
        cluster="cap",
        zone="a",
        member="m1",
        tick=0.1,
        session_timeout=4.0,
        drain_timeout=10.0,
        redis_max_connections=4,  # far fewer than the 30 partitions
        tick_workers=2,
    )
    d = Daemon(settings)
    yield d
    if not d.stopped.is_set():
        d.stop(graceful=False)


def test_a_member_with_more_partitions_than_redis_connections_ticks_each_without_a_failure(
    daemon: Daemon, zk: KazooClient, rds: redis.Redis, namespace: str
) -> None:
    registry = PartitionRegistry(zk, "cap")
    partitions = [f"s{i:02d}" for i in range(STORES)] + [f"c{i:02d}" for i in range(CITIES)]
    for partition in partitions:
        registry.add(partition, "store" if partition.startswith("s") else "city")
    errors_before = tick_errors("store") + tick_errors("city")
    daemon.start()
    assert daemon.member is not None
    wait_owned(daemon.member, lambda o: len(o) == len(partitions), WAIT, "m1 owns all 30")

    def ticks() -> dict[str, int]:
        return {p: CityStore(rds, p, namespace).last_tick()[0] for p in partitions}

    # Every partition, store or city, records at least five ticks in Redis.
    wait_for(lambda: min(ticks().values()) >= 5, WAIT, "every partition ticked 5 times")
    assert tick_errors("store") + tick_errors("city") == errors_before
    assert daemon.scheduler is not None
    assert daemon.scheduler.workers == 2


class _Counting:
    """A real city engine; counts the ticks that raised and says when there were enough."""

    def __init__(self, inner: PartitionEngine, failed: Callable[[], None]) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.failed = failed

    def load(self) -> tuple[int, float | None]:
        return self.inner.load()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        try:
            return self.inner.tick(epoch, tick, now, may_commit)
        except Exception:
            self.failed()
            raise


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "failed" in record.getMessage():
            self.records.append(record)


def test_a_burst_of_identical_tick_errors_logs_a_bounded_number_of_lines(
    rds: redis.Redis, namespace: str
) -> None:
    partitions = [f"broken{i}" for i in range(20)]
    for partition in partitions:  # the incoming stream is a string: every tick fails
        rds.set(f"{namespace}:{{{partition}}}:in", "not a stream")
    burst = 300
    lock = threading.Lock()
    failures = [0]
    enough = threading.Event()

    def failed() -> None:
        with lock:
            failures[0] += 1
            if failures[0] >= burst:
                enough.set()

    logger = logging.getLogger("jarvis.actors.partition")
    lines = _Lines()
    logger.addHandler(lines)
    repeats = RepeatedErrors(logger, every=3600.0)
    scheduler = Scheduler(workers=4)
    refs: list[pykka.ActorRef[PartitionActor]] = []
    try:
        for partition in partitions:
            engine = _Counting(CityEngine(CityStore(rds, partition, namespace)), failed)
            refs.append(
                PartitionActor.start(
                    partition,
                    100,
                    engine,
                    interval=0.01,
                    scheduler=scheduler,
                    gate=lambda: True,
                    on_released=lambda p, e: None,
                    on_stopped=lambda p, e: None,
                    failures=repeats,
                )
            )
        assert enough.wait(WAIT), f"only {failures[0]} ticks failed"
    finally:
        for ref in refs:
            ref.stop()
        scheduler.stop()
        logger.removeHandler(lines)
    # Hundreds of identical failures across 20 partitions: one line, with its traceback.
    assert repeats.total() >= burst
    assert len(lines.records) == 1, [r.getMessage() for r in lines.records]
    assert lines.records[0].exc_info is not None


class _Overlap:
    """A real engine that notes whether two of its ticks ever overlapped and counts them."""

    def __init__(self, inner: PartitionEngine) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.inside = threading.Lock()
        self.overlapped = threading.Event()
        self.ticked = threading.Condition()
        self.ticks = 0

    def load(self) -> tuple[int, float | None]:
        return self.inner.load()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        alone = self.inside.acquire(blocking=False)
        if not alone:
            self.overlapped.set()
        try:
            return self.inner.tick(epoch, tick, now, may_commit)  # real Redis calls
        finally:
            if alone:
                self.inside.release()
            with self.ticked:
                self.ticks += 1
                self.ticked.notify_all()

    def wait_ticks(self, count: int, timeout: float) -> bool:
        with self.ticked:
            return self.ticked.wait_for(lambda: self.ticks >= count, timeout)


def test_ticks_run_on_the_workers_but_one_at_a_time_per_partition_and_never_after_release(
    rds: redis.Redis, namespace: str
) -> None:
    """Workers run ticks themselves (no hand-over to the actor's thread); the actor's
    serial lock keeps them one at a time, also against ticks asked for by message and
    the release's last tick, and none runs once the actor let the partition go."""
    scheduler = Scheduler(workers=4)
    engine = _Overlap(CityEngine(CityStore(rds, CITY, namespace)))
    recorder = Recorder()
    ref = start_actor(engine, scheduler, recorder)
    try:
        for _ in range(200):  # ticks asked for by message, racing the scheduled ones
            ref.tell(Tick(0.0))
        assert engine.wait_ticks(300, WAIT), f"only {engine.ticks} ticks"
        ref.ask(Release(), timeout=WAIT)
        assert recorder.stopped.wait(WAIT), "the actor never stopped after its release"
        after_release = engine.ticks
    finally:
        if ref.is_alive():
            ref.stop()
        scheduler.stop()
    assert not engine.overlapped.is_set(), "two ticks of one partition overlapped"
    assert recorder.released == [(CITY, 100)]
    assert engine.ticks == after_release  # no tick after the release
    assert CityStore(rds, CITY, namespace).last_tick()[0] == after_release
