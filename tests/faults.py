"""Fault injection and waiting helpers shared by the tests.

- :func:`wait_for` polls a condition with a deadline and fails with a message that says
  what never happened (no bare ``time.sleep`` in tests). Only for state held outside
  the test's process (a server, a child process); state in the process is waited on.
- :func:`wait_owned` waits, on the member's own signal, until what a member owns
  satisfies a predicate.
- :func:`expire_session` expires a kazoo client's ZooKeeper session on the server, the
  way kazoo's own test harness does: a second client joins the same session and closes
  it, so the server ends the session for both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from jarvis.election import Member

__all__ = ["expire_session", "wait_for", "wait_owned"]

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Return the first truthy value of ``condition()``; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            pytest.fail(f"within {timeout:.1f} s, never: {what} (last value: {last!r})")
        time.sleep(interval)
        last = condition()
    return last


def wait_owned(
    member: Member, predicate: Callable[[dict[str, int]], bool], timeout: float, what: str
) -> dict[str, int]:
    """What ``member`` owns once ``predicate`` holds for it; fail the test after ``timeout``."""
    owned = member.wait_owned(predicate, timeout)
    if owned is None:
        pytest.fail(f"within {timeout:.1f} s, never: {what} (owned: {member.owned()!r})")
    return owned


def expire_session(client: KazooClient, timeout: float = 15.0) -> None:
    """Expire ``client``'s session on the server and wait until the client sees LOST."""
    lost = threading.Event()

    def listener(state: KazooState) -> bool:
        if state == KazooState.LOST:
            lost.set()
            return True
        return False

    client.add_listener(listener)
    session_id, password = client.client_id
    hosts = ",".join(f"{h}:{p}" for h, p in client.hosts)
    chroot = client.chroot or ""
    twin = KazooClient(hosts=hosts + chroot, client_id=(session_id, password))
    twin.start(timeout=timeout)
    twin.stop()
    twin.close()
    if not lost.wait(timeout):
        pytest.fail(f"the client never saw its session expire within {timeout:.0f} s")
