"""Local ZooKeeper and Redis servers on free ports, for the tests and `jarvis demo`.

Each server runs as a child process in its own temporary directory, on a free loopback
port, and is waited for until it answers (ZooKeeper ``ruok`` -> ``imok``, Redis
``PING``). Either can be stopped and started again keeping its data, which is how the
tests restart Redis and find their data still there. Children get ``PR_SET_PDEATHSIG``
so a killed parent never leaves a server behind.

The binaries come from the Debian packages ``zookeeper`` (on a Java runtime) and
``redis-server``; :class:`~jarvis.errors.ServerMissingError` says to run ``make setup``
when one is missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from jarvis.errors import ServerError, ServerMissingError

__all__ = [
    "DevCluster",
    "RedisServer",
    "ZooKeeperEnsemble",
    "ZooKeeperServer",
    "die_with_parent",
    "free_port",
]

log = logging.getLogger(__name__)

ZOOKEEPER_CLASSPATH = (
    "/etc/zookeeper/conf",
    "/usr/share/java/zookeeper.jar",
)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1
_SID = re.compile(r"sid=0x([0-9a-fA-F]+)")


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


#: Ports are chosen here, below the kernel's ephemeral range: a port taken from that range
#: (bind to port 0) could be handed to an outgoing connection's source side between
#: choosing it and the server binding it. That happened in a fresh-clone run (2026-11-27):
#: two Redis Cluster nodes exited with "Address already in use", one on its port, one on
#: its cluster bus port. Below the range only a listener can hold a port, and the bind
#: check sees it.
_PORTS = (20000, _ephemeral_low() - 1)
_chosen: set[int] = set()
_chosen_lock = threading.Lock()
_pick = random.Random(os.urandom(16))  # its own generator: tests may seed `random`


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, chosen at random below
    the kernel's ephemeral range, never the same twice in this process."""
    low, high = _PORTS
    with _chosen_lock:
        for _ in range(1000 if high > low else 0):
            port = _pick.randint(low, high)
            if port in _chosen:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _chosen.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # no room below the range: the kernel's choice
        chosen: int = sock.getsockname()[1]
        return chosen


def die_with_parent() -> None:  # pragma: no cover - runs in the child after fork
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _wait_until(check: Callable[[], bool], timeout: float, what: str, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    tail = log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""
    raise ServerError(f"{what} did not answer within {timeout:.0f} s; log tail:\n{tail}")


class _Server:
    """A child server process with a data directory and a log file."""

    name = "server"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = workdir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    # Subclasses say how to start and how to tell that the server answers.
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _answers(self) -> bool:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it to answer.

        The process is tied to the *thread* that launches it (``PR_SET_PDEATHSIG``
        fires when that thread ends), so launch from a long-lived thread.
        """
        if self.running:
            return
        cmd = self._command()
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        log.info("started %s pid=%s port=%s", self.name, self._proc.pid, self.port)

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self._proc.returncode}; log tail:\n"
                    + self.log_path.read_text(errors="replace")[-4000:]
                )
            return self._answers()

        _wait_until(ready, START_TIMEOUT, f"{self.name} on port {self.port}", self.log_path)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period). Keeps its data."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        if self.paused:  # a stopped process only sees SIGTERM once it runs again
            proc.send_signal(signal.SIGCONT)
            self.paused = False
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
        log.info("stopped %s port=%s", self.name, self.port)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        proc, self._proc = self._proc, None
        self.paused = False
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def pause(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)
        self.paused = False

    def restart(self) -> None:
        """Stop and start again on the same port, keeping the data directory."""
        self.stop()
        self.start()

    def log_tail(self, chars: int = 4000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]


class ZooKeeperServer(_Server):
    """A standalone ZooKeeper from the Debian package, with its own ``zoo.cfg``.

    ``tick_time_ms`` bounds the session timeouts the server grants (2 to 20 ticks), so
    tests that want short sessions pass a short tick.
    """

    name = "zookeeper"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        tick_time_ms: int = 200,
        peers: Sequence[tuple[int, int, int]] = (),
        myid: int = 0,
    ) -> None:
        super().__init__(workdir, port)
        self.tick_time_ms = tick_time_ms
        self.peers = tuple(peers)  # (id, quorum port, election port) of every server
        self.myid = myid
        self.java = shutil.which("java")
        missing = [p for p in ZOOKEEPER_CLASSPATH if not Path(p).exists()]
        if self.java is None or missing:
            raise ServerMissingError(
                "ZooKeeper is not installed (needs the Debian package 'zookeeper' and a Java "
                f"runtime; missing: {', '.join(missing) or 'java'}). Run `make setup`."
            )

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        cfg = self.workdir / "zoo.cfg"
        cfg.write_text(
            "\n".join(
                [
                    f"tickTime={self.tick_time_ms}",
                    f"dataDir={data}",
                    f"clientPort={self.port}",
                    "clientPortAddress=127.0.0.1",
                    "admin.enableServer=false",
                    "4lw.commands.whitelist=ruok,srvr,stat,mntr,cons",
                    "maxClientCnxns=0",
                    "minSessionTimeout=" + str(2 * self.tick_time_ms),
                    "maxSessionTimeout=" + str(100 * self.tick_time_ms),
                    *self._ensemble_lines(data),
                    "",
                ]
            )
        )
        assert self.java is not None
        return [
            self.java,
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-Dzookeeper.log.dir=" + str(self.workdir),
            "-Dzookeeper.root.logger=INFO,CONSOLE",
            "-cp",
            ":".join(ZOOKEEPER_CLASSPATH),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(cfg),
        ]

    def _ensemble_lines(self, data: Path) -> list[str]:
        if not self.peers:
            return []
        (data / "myid").write_text(f"{self.myid}\n")
        lines = ["initLimit=10", "syncLimit=5", "standaloneEnabled=false"]
        lines += [f"server.{i}=127.0.0.1:{q}:{e}" for i, q, e in self.peers]
        return lines

    @property
    def mode(self) -> str:
        """``standalone``, ``leader`` or ``follower`` (``down`` when it does not answer)."""
        try:
            for line in self.four_letter("srvr").splitlines():
                if line.startswith("Mode:"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "down"

    def four_letter(self, word: str, timeout: float = 1.0) -> str:
        """Send a four-letter word (``ruok``, ``srvr``, ``stat``, ``mntr``) and return the reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def _answers(self) -> bool:
        try:
            return self.four_letter("ruok") == "imok" and "Mode:" in self.four_letter("srvr")
        except OSError:
            return False

    def sessions(self) -> set[int]:
        """The ids of the sessions connected to this server right now (``cons``).

        Empty when the server does not answer (stopped, paused or down).
        """
        try:
            reply = self.four_letter("cons")
        except OSError:
            return set()
        return {int(sid, 16) for sid in _SID.findall(reply)}


class ZooKeeperEnsemble:
    """Three (or more) ZooKeeper servers forming one quorum on local ports."""

    def __init__(self, workdir: Path, size: int = 3, tick_time_ms: int = 200) -> None:
        peers = [(i, free_port(), free_port()) for i in range(1, size + 1)]
        self.servers = [
            ZooKeeperServer(workdir / f"zk{i}", tick_time_ms=tick_time_ms, peers=peers, myid=i)
            for i, _, _ in peers
        ]

    @property
    def hosts(self) -> str:
        return ",".join(s.hosts for s in self.servers)

    def start(self) -> None:
        # A quorum member only answers `srvr` once a quorum is formed: launch all, then wait.
        try:
            for server in self.servers:
                server.launch()
            for server in self.servers:
                server.wait_ready()
        except BaseException:
            self.stop()
            raise

    def pause(self, server: ZooKeeperServer) -> None:
        """Freeze one server (SIGSTOP): its connections stay open and nothing answers."""
        server.pause()

    def resume(self, server: ZooKeeperServer) -> None:
        server.resume()

    def server_of(self, session_id: int) -> ZooKeeperServer | None:
        """The server the session ``session_id`` is connected to (None: not connected).

        Asks every running, answering server (``cons``); a paused server cannot answer,
        so a session stuck on it is reported as not connected.
        """
        for server in self.servers:
            if server.running and not server.paused and session_id in server.sessions():
                return server
        return None

    def leader(self) -> ZooKeeperServer:
        for server in self.servers:
            if server.running and server.mode == "leader":
                return server
        raise ServerError("no ZooKeeper server of the ensemble is the leader")

    def stop(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()

    def logs(self) -> Iterator[tuple[str, str]]:
        for i, server in enumerate(self.servers, 1):
            yield f"zookeeper-{i}", server.log_tail()


class RedisServer(_Server):
    """A ``redis-server`` with ``appendonly yes`` (AOF), its data in ``workdir``."""

    name = "redis"

    def __init__(self, workdir: Path, port: int | None = None, extra_config: str = "") -> None:
        super().__init__(workdir, port)
        self.binary = shutil.which("redis-server")
        self.extra_config = extra_config
        if self.binary is None:
            raise ServerMissingError(
                "redis-server is not installed (Debian package 'redis-server'). Run `make setup`."
            )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        conf = self.workdir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f"dir {self.workdir}",
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    "daemonize no",
                    "protected-mode yes",
                    self.extra_config,
                    "",
                ]
            )
        )
        assert self.binary is not None
        return [self.binary, str(conf)]

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                # -NOAUTH: up, with the default user off (an ACL test's extra_config).
                return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False


class DevCluster:
    """A ZooKeeper and a Redis in one temporary directory; a context manager.

    >>> with DevCluster() as servers:          # doctest: +SKIP
    ...     servers.zookeeper.hosts, servers.redis.url
    """

    def __init__(self, root: Path | None = None, zk_tick_time_ms: int = 200) -> None:
        self._owns_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="jarvis-")) if root is None else root
        self.zookeeper = ZooKeeperServer(self.root / "zookeeper", tick_time_ms=zk_tick_time_ms)
        self.redis = RedisServer(self.root / "redis")

    def start(self) -> DevCluster:
        try:
            self.zookeeper.start()
            self.redis.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in (self.redis, self.zookeeper):
            with contextlib.suppress(Exception):
                server.stop()
        if self._owns_root and os.environ.get("JARVIS_KEEP_SERVER_DIRS") != "1":
            shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> Iterator[tuple[str, str]]:
        for server in (self.zookeeper, self.redis):
            yield server.name, server.log_tail()

    def __enter__(self) -> DevCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
