"""Structured logs: JSON or text, with member, partition, epoch and tick on the lines that
concern them, and no secret ever written."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

import pytest
from kazoo.client import KazooClient

from jarvis.actors import PartitionActor, PartitionEngine, Scheduler, TickReport
from jarvis.election import PartitionRegistry
from jarvis.logs import configure_logging
from jarvis.repeats import RepeatedErrors
from jarvis.testing.engine import StubEngine
from tests.ops.conftest import CREDENTIALS

ROOT = Path(__file__).parents[2]
T = TypeVar("T")


class LogBuffer(io.StringIO):
    """A buffer for log lines that wakes waiters at each write."""

    def __init__(self) -> None:
        super().__init__()
        self._written = threading.Condition()

    def write(self, text: str) -> int:
        with self._written:
            written = super().write(text)
            self._written.notify_all()
            return written

    def wait_until(
        self, condition: Callable[[list[dict[str, object]]], T], timeout: float, what: str
    ) -> T:
        """The first truthy ``condition(json lines)``, checked at each write."""
        with self._written:
            value = self._written.wait_for(lambda: condition(_lines(self)), timeout)
        if not value:
            pytest.fail(f"within {timeout:.1f} s, never: {what}\n{self.getvalue()}")
        return value


@pytest.fixture
def stream() -> Iterator[LogBuffer]:
    """Logging configured as the CLI does, into a buffer; restored afterwards."""
    root = logging.getLogger()
    level = root.level
    buffer = LogBuffer()
    yield buffer
    for handler in list(root.handlers):
        if handler.__class__.__name__ == "_JarvisHandler":
            root.removeHandler(handler)
    root.setLevel(level)


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


class FailingEngine:
    kind = "city"

    def __init__(self, inner: PartitionEngine) -> None:
        self.inner = inner

    def load(self) -> tuple[int, float | None]:
        return self.inner.load()

    def tick(self, epoch: int, tick: int, now: float, may_commit: Callable[[], bool]) -> TickReport:
        raise RuntimeError("simulated failure inside a tick")


def test_a_failing_tick_logs_one_json_line_with_its_partition_epoch_and_tick(
    stream: LogBuffer,
) -> None:
    configure_logging("INFO", "json", member="m1", stream=stream)
    scheduler = Scheduler()
    # every=0: each repeat is logged (as a count line) so the next tick's line shows.
    repeats = RepeatedErrors(logging.getLogger("jarvis.actors.partition"), every=0)
    stopped = threading.Event()
    ref = PartitionActor.start(
        "oslo",
        100,
        FailingEngine(StubEngine("oslo")),
        interval=0.05,
        scheduler=scheduler,
        gate=lambda: True,
        on_released=lambda p, e: None,
        on_stopped=lambda p, e: stopped.set(),
        failures=repeats,
    )

    def two_failures(lines: list[dict[str, object]]) -> list[dict[str, object]]:
        failures = [line for line in lines if "failed" in str(line["msg"])]
        return failures[:2] if len(failures) >= 2 else []

    try:
        failures = stream.wait_until(two_failures, 10, "two failed ticks were logged")
    finally:
        ref.stop()
        scheduler.stop()
    first, second = failures
    assert first["level"] == "ERROR"
    assert first["logger"] == "jarvis.actors.partition"
    assert (first["member"], first["partition"], first["kind"], first["epoch"]) == (
        "m1",
        "oslo",
        "city",
        100,
    )
    assert isinstance(first["tick"], int)
    assert second["tick"] == first["tick"] + 1
    assert "RuntimeError: simulated failure" in str(first["exc"])
    assert f"tick {first['tick']} failed" in str(first["msg"])
    # A repeat of the same error is one line with a count, without a traceback.
    assert "exc" not in second
    assert "1 like it" in str(second["msg"]), second["msg"]


def test_text_lines_carry_the_context_in_brackets_before_any_traceback(
    stream: LogBuffer,
) -> None:
    configure_logging("INFO", "text", member="m1", stream=stream)
    log = logging.getLogger("jarvis.test")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("tick failed", extra={"partition": "oslo", "epoch": 7, "tick": 3})
    log.info("no partition here")
    first, *traceback, last = stream.getvalue().splitlines()
    assert first.endswith("ERROR jarvis.test tick failed [member=m1 partition=oslo epoch=7 tick=3]")
    assert traceback[-1] == "ValueError: boom"
    assert last.endswith("INFO jarvis.test no partition here [member=m1]")


def test_secrets_and_url_passwords_are_scrubbed_from_every_line(stream: LogBuffer) -> None:
    configure_logging("INFO", "json", secrets=["zk-secret-value"], stream=stream)
    log = logging.getLogger("jarvis.test")
    log.info("Redis at %s failed", "rediss://jarvis:redis-secret-value@redis:6379/0")
    log.warning("auth %s refused", "jarvis:zk-secret-value")
    text = stream.getvalue()
    assert "secret-value" not in text
    messages = [line["msg"] for line in _lines(stream)]
    assert messages == [
        "Redis at rediss://jarvis:***@redis:6379/0 failed",
        "auth jarvis:*** refused",
    ]


def test_jarvis_run_writes_json_lines_with_member_and_partition_context(
    zk_hosts: str, redis_url: str, namespace: str, cluster: str, admin: KazooClient
) -> None:
    PartitionRegistry(admin, cluster).add("e2e-city", "city")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_")}
    environ |= {
        "JARVIS_ZK": zk_hosts,
        "JARVIS_ZK_AUTH": CREDENTIALS,
        "JARVIS_REDIS": redis_url,
        "JARVIS_NAMESPACE": namespace,
        "JARVIS_CLUSTER": cluster,
        "JARVIS_MEMBER": "m-e2e",
        "JARVIS_SESSION_TIMEOUT": "4",
        "JARVIS_TICK": "0.2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "jarvis", "--log-format", "json", "run"],
        cwd=ROOT,
        env=environ,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    started = threading.Event()

    def read(stderr: IO[str]) -> None:
        for line in stderr:
            lines.append(line)
            if "acting as owner" in line:
                started.set()

    assert process.stderr is not None
    reader = threading.Thread(target=read, args=(process.stderr,), daemon=True)
    reader.start()
    try:
        assert started.wait(20), "the member never started acting for e2e-city:\n" + "".join(lines)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        reader.join(10)
        process.stderr.close()
    assert code == 0, "".join(lines)
    documents = [json.loads(line) for line in lines]  # every line is JSON
    assert all(d["member"] == "m-e2e" for d in documents)
    acting = [d for d in documents if "acting as owner" in str(d["msg"])]
    assert acting[0]["partition"] == "e2e-city"
    assert isinstance(acting[0]["epoch"], int)
    assert CREDENTIALS.partition(":")[2] not in "".join(lines)
    # start-up's objects are frozen out of the collector (jarvis/cli/settings.py)
    frozen = [d for d in documents if "kept out of the collector" in str(d["msg"])]
    assert len(frozen) == 1, frozen
    assert int(str(frozen[0]["msg"]).rsplit(" ", 1)[1]) > 10000, frozen
