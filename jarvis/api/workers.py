"""Several processes serving one port: the supervisor of ``jarvis api``.

The supervisor binds the listening socket once (an address in use fails here, before
anything starts), then forks ``workers`` processes that share it: each accepts
connections from the same socket, with its own event loop (uvloop and httptools when
installed), its own app and its own Redis pool, so the HTTP interface uses every core
instead of one interpreter's. The kernel hands each new connection to one of the
accepting processes.

Stopping (:meth:`WorkerPool.stop`, on the first SIGTERM or SIGINT): each worker gets
SIGTERM, uvicorn stops accepting, finishes the requests in flight (up to
``grace`` seconds) and exits 0. A worker that dies on its own is started again (at
most once per ``restart_delay`` seconds) and logged. :meth:`WorkerPool.run` returns
True when every worker stopped cleanly.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from jarvis import metrics
from jarvis.api.server import bind, split_listen, uvicorn_config

__all__ = ["WorkerPool"]

log = logging.getLogger(__name__)

#: Builds a worker's app, in the worker process (so each has its own Redis pool);
#: the event is set once that worker is stopping.
AppFactory = Callable[[threading.Event], Any]

_PR_SET_PDEATHSIG = 1


class WorkerPool:
    """``workers`` forked processes serving ``factory``'s app on ``listen``
    (``HOST:PORT``)."""

    def __init__(
        self,
        factory: AppFactory,
        listen: str,
        workers: int,
        *,
        grace: float = 10.0,
        restart_delay: float = 1.0,
    ) -> None:
        self.factory = factory
        self.host, self.port = split_listen(listen)
        self.workers = workers
        self.grace = grace
        self.restart_delay = restart_delay
        self.stopping = threading.Event()
        self._socket: socket.socket | None = None
        self._pids: set[int] = set()

    def stop(self) -> None:
        """Ask :meth:`run` to stop every worker (safe from a signal handler)."""
        self.stopping.set()

    def run(self) -> bool:
        """Serve until :meth:`stop`; True when every worker then exited 0."""
        self._socket = bind(self.host, self.port)
        try:
            for _ in range(self.workers):
                self._spawn()
            log.info("jarvis api on %s:%s, %s worker processes", self.host, self.port, self.workers)
            while not self.stopping.wait(self.restart_delay):
                self._restart_dead()
            return self._stop_all()
        finally:
            self._socket.close()
            self._socket = None

    # --- the workers ---------------------------------------------------------------

    def _spawn(self) -> None:
        assert self._socket is not None
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            code = 1
            try:
                code = _serve(self.factory, self._socket, self.host, self.port, self.grace)
            except BaseException:
                log.exception("jarvis api worker %s failed", os.getpid())
            finally:
                logging.shutdown()
                os._exit(code)
        self._pids.add(pid)

    def _restart_dead(self) -> None:
        for pid in list(self._pids):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            self._pids.discard(pid)
            metrics.forget_process(pid)
            log.warning(
                "jarvis api worker %s exited (%s); starting another", pid, _describe(status)
            )
            if not self.stopping.is_set():
                self._spawn()

    def _stop_all(self) -> bool:
        clean = True
        for pid in self._pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in list(self._pids):
            status = _wait(pid, self.grace + 5.0)
            if status is None:
                log.warning("jarvis api worker %s did not stop in time; killed", pid)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                clean = False
            elif os.waitstatus_to_exitcode(status) != 0:
                log.warning("jarvis api worker %s stopped: %s", pid, _describe(status))
                clean = False
            self._pids.discard(pid)
            metrics.forget_process(pid)
        return clean


def _serve(factory: AppFactory, sock: socket.socket, host: str, port: int, grace: float) -> int:
    """A worker's life: its own app, then uvicorn on the shared socket until SIGTERM."""
    # The parent's handlers are not ours. Ignored, not default: once uvicorn has shut down
    # gracefully it restores these and raises the signal it caught again, which must
    # not turn a clean stop into a death by SIGTERM.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    _stop_with_parent()
    stopping = threading.Event()
    config = uvicorn_config(factory(stopping), host, port, timeout_graceful_shutdown=grace)
    server = _Server(config, stopping)
    server.run(sockets=[sock])
    return 0 if server.started else 1


class _Server(uvicorn.Server):
    """uvicorn that also tells the app when it begins to stop (``/readyz`` says 503)."""

    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self.stopping = stopping

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.stopping.set()
        super().handle_exit(sig, frame)


def _stop_with_parent() -> None:
    """A worker whose supervisor dies (even by SIGKILL) gets SIGTERM and stops
    gracefully, instead of serving on, unsupervised (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait(pid: int, timeout: float) -> int | None:
    """The wait status of ``pid`` once it exits within ``timeout`` seconds, else None."""
    done = threading.Event()
    result: list[int] = []

    def reap() -> None:
        result.append(os.waitpid(pid, 0)[1])
        done.set()

    threading.Thread(target=reap, name=f"reap-{pid}", daemon=True).start()
    return result[0] if done.wait(timeout) else None


def _describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"signal {-code}" if code < 0 else f"exit code {code}"
