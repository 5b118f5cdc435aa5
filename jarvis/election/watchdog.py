"""Leaving a ZooKeeper server that stopped answering, while the session lives on.

kazoo declares a connection dead only when one of its own pings goes unanswered, and it
sends a ping only once it has *sent* nothing for a third of the session timeout: every
request pushes the ping back. A member that keeps sending (heartbeats, read retries) to
a frozen server (SIGSTOP, a black hole) therefore keeps a dead connection "alive" for as
long as the server stays frozen, and never moves to another server of the ensemble.

:class:`ConnectionWatchdog` measures the other side: the time since the server last
*answered*. Its own thread sends a probe (an ``exists`` on the client's root, no watch)
every ``probe_interval`` and waits for the answer. When the connection has been silent
for ``silence_limit`` (default a third of the session timeout), it moves that server to
the end of the client's host list and shuts the connection's socket down. kazoo sees the
socket close, reports SUSPENDED, and connects to the next server with the *same*
session: the session lives on the ensemble, so with a quorum left it is resumed (kazoo
reports CONNECTED) well before it could expire, and nothing owned is lost.

The watchdog acts only on an established connection; a connection attempt that hangs is
kazoo's to time out (after ``session_timeout / len(hosts)``), and since the silent
server went to the end of the list, the next attempts go to the others first. It never
depends on what the rest of the member sends: the probe is its own, and a probe that is
answered late still counts from its answer, not from its sending. With a single server
there is nowhere else to go, and leaving a server that is only slow (a loaded machine)
would cost a reconnect for nothing: the watchdog then stays idle and kazoo's own ping
decides.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.protocol.states import KazooState

from jarvis.election.background import Background

__all__ = ["ConnectionWatchdog", "connected_server"]

log = logging.getLogger(__name__)

#: Leave a server after this fraction of the session timeout without an answer.
SILENCE_FRACTION = 1.0 / 3.0
#: Probe this many times per silence limit (so a healthy server is never near it).
PROBES_PER_LIMIT = 4
_STOP_CHECK = 0.1


def connected_server(client: KazooClient) -> tuple[str, int] | None:
    """The (address, port) of the ZooKeeper server ``client`` is connected to, if any."""
    sock = _socket(client)
    if sock is None or not client.connected:
        return None
    try:
        peer = sock.getpeername()
    except OSError:
        return None
    return str(peer[0]), int(peer[1])


def _socket(client: KazooClient) -> socket.socket | None:
    # kazoo keeps the live socket on its connection handler; there is no public accessor,
    # so a kazoo release that renames it turns the watchdog idle (never wrong).
    try:
        sock = client._connection._socket
    except AttributeError:
        return None
    return sock if isinstance(sock, socket.socket) else None


class ConnectionWatchdog(Background):
    """Drops a kazoo connection whose server has not answered for ``silence_limit`` s.

    ``on_drop`` (optional) is called on the watchdog's thread with the (address, port)
    of the server left behind; it must return at once.
    """

    def __init__(
        self,
        client: KazooClient,
        session_timeout: float,
        *,
        silence_limit: float | None = None,
        probe_interval: float | None = None,
        name: str = "zk",
        on_drop: Callable[[tuple[str, int]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.silence_limit = (
            session_timeout * SILENCE_FRACTION if silence_limit is None else silence_limit
        )
        self.probe_interval = (
            self.silence_limit / PROBES_PER_LIMIT if probe_interval is None else probe_interval
        )
        if self.silence_limit <= 0 or self.probe_interval <= 0:
            raise ValueError("silence_limit and probe_interval must be > 0")
        super().__init__(f"jarvis-zk-watchdog-{name}")
        self._name = name
        self._on_drop = on_drop
        self._clock = clock
        self._lock = threading.Lock()
        self._drops: list[tuple[str, int]] = []

    @property
    def drops(self) -> list[tuple[str, int]]:
        """The servers left so far, oldest first."""
        with self._lock:
            return list(self._drops)

    # --- the watchdog's thread --------------------------------------------------------

    def _run(self) -> None:
        watched: socket.socket | None = None
        left: socket.socket | None = None
        last_answer = self._clock()
        while not self._stopping.is_set():
            sock = _socket(self._client)
            if len(self._client.hosts) < 2:  # nowhere else to go: kazoo's ping decides
                self._stopping.wait(self.probe_interval)
                continue
            if sock is None or sock is left or self._client.state != KazooState.CONNECTED:
                self._stopping.wait(min(0.05, self.probe_interval))
                continue
            if sock is not watched:  # a new connection: its handshake was an answer
                watched, last_answer = sock, self._clock()
            try:
                probe = self._client.exists_async("/")
            except KazooException as exc:
                log.debug("%s: watchdog probe not sent: %r", self._name, exc)
                self._stopping.wait(self.probe_interval)
                continue
            deadline = last_answer + self.silence_limit
            # Wait in short slices so that stop() never waits for a silent server.
            while not probe.ready() and not self._stopping.is_set():
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                probe.wait(min(remaining, _STOP_CHECK))
            if probe.ready():
                if probe.successful():
                    last_answer = self._clock()
                # A failed probe (ConnectionLoss) means kazoo dropped this connection
                # itself; the next round watches whatever it connects to next.
                self._stopping.wait(self.probe_interval)
                continue
            if self._stopping.is_set():
                return
            self._leave(sock, self._clock() - last_answer)
            left = sock  # wait for kazoo to connect elsewhere before probing again

    def _leave(self, sock: socket.socket, silent_for: float) -> None:
        if _socket(self._client) is not sock:
            return  # kazoo moved on by itself meanwhile
        try:
            peer = sock.getpeername()
            server = (str(peer[0]), int(peer[1]))
        except OSError:
            return  # already closed
        log.warning(
            "%s: ZooKeeper server %s:%s silent for %.1f s, moving to another server",
            self._name,
            server[0],
            server[1],
            silent_for,
        )
        self._demote(server)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            log.debug("%s: socket already closed: %r", self._name, exc)
        with self._lock:
            self._drops.append(server)
        if self._on_drop is not None:
            try:
                self._on_drop(server)
            except Exception:
                log.exception("%s: on_drop failed", self._name)

    def _demote(self, server: tuple[str, int]) -> None:
        """Put ``server`` last in the client's host list, the others in random order."""
        hosts: list[tuple[str, int]] = list(self._client.hosts)
        silent = [h for h in hosts if _resolves_to(h, server)]
        others = [h for h in hosts if h not in silent]
        random.shuffle(others)
        spec = [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in others + silent]
        if self._client.chroot:
            spec.append(self._client.chroot)
        self._client.set_hosts(spec, randomize_hosts=False)


def _resolves_to(host: tuple[str, int], server: tuple[str, int]) -> bool:
    name, port = host
    if port != server[1]:
        return False
    try:
        infos = socket.getaddrinfo(name, port, 0, 0, socket.IPPROTO_TCP)
    except OSError:
        return False
    return any(info[4][0] == server[0] for info in infos)
