"""Serve the HTTP interface: uvicorn in a background thread of the member process, and
the listening socket and uvicorn settings :mod:`jarvis.api.workers` shares."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from jarvis.errors import ConfigError, ServerError

__all__ = ["HttpServer", "bind", "split_listen", "uvicorn_config"]

log = logging.getLogger(__name__)


def split_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); ConfigError naming the setting otherwise."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"setting 'http' (JARVIS_HTTP): expected HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on (host, port); ServerError if the address is taken."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ServerError(f"HTTP interface on {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ServerError(f"HTTP interface did not start on {host}:{port}: {exc}") from exc
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for Jarvis: the fastest parser and loop installed (httptools,
    uvloop), no access log, no per-response Server/Date headers, no lifespan."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        date_header=False,
        **options,
    )


class HttpServer:
    """uvicorn in a thread (it installs no signal handlers off the main thread).

    The listening socket is bound by :meth:`start` in the caller's thread, so an address
    already in use is a ServerError there, not an exit of the server thread.
    """

    def __init__(self, app: Any, listen: str) -> None:
        host, port = split_listen(listen)
        self.config = uvicorn_config(app, host, port)
        self.server = uvicorn.Server(self.config)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        self._socket = bind(self.config.host, self.config.port)
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self._socket]},
            name="jarvis-http",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServerError(
                    f"HTTP interface did not start on {self.config.host}:{self.config.port}"
                )
            time.sleep(0.01)
        log.info("HTTP interface on %s:%s", self.config.host, self.config.port)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
