"""Since when ZooKeeper has surely heard from this member: the clock of the step-down.

A member steps down once ZooKeeper has not answered it for two thirds of the session
timeout (see :mod:`jarvis.election.member`). An answered request proves the server had
the session alive when the request arrived, so at or after the time it was *sent*:
:meth:`Liveness.heard` keeps the latest such sending time.

Heartbeats feed it from a thread of their own: one ``exists`` of the member node every
``interval``, at most one in flight, its sending time recorded once it is answered. They
used to be sent, and their answers read, by the member's worker between two of its
rounds; a round that took long held both back, and the member took its own slowness for
ZooKeeper's silence. With 2,000 and 4,000 partitions on a loaded 2-core machine it
stepped down for nothing after a start (reading back thousands of owner nodes took the
worker 2.5 s a round, acquiring them longer). Now a busy worker delays nothing but its
own rounds: it still checks the clock at each round, and a silent ZooKeeper still stops
the heartbeats' answers, so the step-down comes as before when it is due.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from jarvis.election.background import Background

__all__ = ["Liveness"]

log = logging.getLogger(__name__)

_STOP_CHECK = 0.1


class Liveness(Background):
    """The sending time of the latest request ZooKeeper answered (member clock), and
    the heartbeat thread that keeps it fresh."""

    def __init__(
        self,
        client: KazooClient,
        path: str,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        name: str = "zk",
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be > 0, not {interval}")
        super().__init__(f"jarvis-zk-heartbeat-{name}")
        self._client = client
        self._path = path
        self.interval = interval
        self._clock = clock
        self._name = name
        self._lock = threading.Lock()
        self._last_ok = clock()

    @property
    def last_ok(self) -> float:
        with self._lock:
            return self._last_ok

    def heard(self, sent_at: float) -> None:
        """A request sent at ``sent_at`` was answered (or a connection established)."""
        with self._lock:
            self._last_ok = max(self._last_ok, sent_at)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self._client.connected:
                self._beat()
            self._stopping.wait(self.interval)

    def _beat(self) -> None:
        sent_at = self._clock()
        try:
            result = self._client.exists_async(self._path)
        except KazooException as exc:
            log.debug("%s: heartbeat not sent: %r", self._name, exc)
            return
        # Wait in short slices so that stop() never waits for a silent server; one
        # heartbeat at a time (a silent server gets no pile of them).
        while not result.ready() and not self._stopping.is_set():
            result.wait(_STOP_CHECK)
        if result.ready() and result.successful():
            self.heard(sent_at)
