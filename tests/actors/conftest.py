"""Fixtures and helpers for the partition-actor tests (with the stub or a Redis engine).

The tests that use Redis run against a standalone Redis and against a Redis Cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pykka
import pytest
from prometheus_client import REGISTRY

from jarvis.actors import PartitionActor, PartitionEngine, Scheduler, TickReport

CITY = "oslo"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "redis_mode" in metafunc.fixturenames:
        metafunc.parametrize("redis_mode", ["standalone", "cluster"])


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    s = Scheduler()
    yield s
    s.stop()


class Recorder:
    """What an actor tells its member: released (with its epoch), stopped."""

    def __init__(self) -> None:
        self.released: list[tuple[str, int]] = []
        self.stopped = threading.Event()

    def on_released(self, partition: str, epoch: int) -> None:
        self.released.append((partition, epoch))

    def on_stopped(self, partition: str, epoch: int) -> None:
        self.stopped.set()


def start_actor(
    engine: PartitionEngine,
    scheduler: Scheduler,
    recorder: Recorder,
    epoch: int = 100,
    gate: Callable[[], bool] = lambda: True,
) -> pykka.ActorRef[PartitionActor]:
    return PartitionActor.start(
        CITY,
        epoch,
        engine,
        interval=0.05,
        scheduler=scheduler,
        gate=gate,
        on_released=recorder.on_released,
        on_stopped=recorder.on_stopped,
    )


def tick_errors(kind: str) -> float:
    """The ``jarvis_tick_errors_total`` counter of ``kind``."""
    return REGISTRY.get_sample_value("jarvis_tick_errors_total", {"kind": kind}) or 0.0


class FlakyEngine:
    """A real engine whose every other tick raises first."""

    def __init__(self, inner: PartitionEngine) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.calls = 0

    def load(self) -> tuple[int, float | None]:
        return self.inner.load()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("simulated failure inside a tick")
        return self.inner.tick(epoch, tick, now, may_commit)
