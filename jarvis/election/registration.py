"""Registering a member: its ephemeral node under ``/members``.

A member id can be registered by one live session at a time. When a previous process
with the same id crashed, its node lingers until the server expires that session;
:func:`register` waits for it (up to a deadline) instead of stealing it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.protocol.states import WatchedEvent

from jarvis.election.nodes import DrainRequest, MemberNode, decode, encode
from jarvis.election.paths import ClusterPaths
from jarvis.errors import ElectionError

__all__ = ["register"]

_CALL_TIMEOUT = 10.0


def _sync(result: Any) -> Any:
    return result.get(timeout=_CALL_TIMEOUT)


def _setter(event: threading.Event) -> Callable[[WatchedEvent], None]:
    def on_change(_: WatchedEvent) -> None:
        event.set()

    return on_change


def register(
    client: KazooClient,
    paths: ClusterPaths,
    member_id: str,
    node: MemberNode,
    deadline: float | None,
) -> int:
    """Create the member node; return the session id that owns it.

    ``deadline`` (``time.monotonic()``) bounds the wait for an earlier session's node to
    go; None means do not wait. A drain request left for an earlier session is removed.
    """
    path = paths.member(member_id)
    data = encode(node)
    session: int = client.client_id[0]
    while True:
        try:
            _sync(client.create_async(path, data, ephemeral=True))
            break
        except NodeExistsError:
            pass
        gone = threading.Event()
        stat = _sync(client.exists_async(path, watch=_setter(gone)))
        if stat is None:
            continue
        if stat.ephemeralOwner == session:
            _sync(client.set_async(path, data))
            break
        remaining = 0.0 if deadline is None else deadline - time.monotonic()
        if remaining <= 0 or not gone.wait(remaining):
            raise ElectionError(
                f"member id {member_id!r} is registered by another live session "
                "(another process with the same id, or one that has not expired yet)"
            )
    drain_path = paths.drain(member_id)
    try:
        raw, _ = _sync(client.get_async(drain_path))
    except NoNodeError:
        return session
    if decode(DrainRequest, raw, drain_path).session != session:
        with contextlib.suppress(NoNodeError):
            _sync(client.delete_async(drain_path))
    return session
