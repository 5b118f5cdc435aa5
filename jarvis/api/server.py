"""Serve the HTTP interface from a background thread of the member process."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn
from fastapi import FastAPI

from jarvis.errors import ConfigError, ServerError

__all__ = ["HttpServer"]

log = logging.getLogger(__name__)


class HttpServer:
    """uvicorn in a thread (it installs no signal handlers off the main thread)."""

    def __init__(self, app: FastAPI, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"setting 'http' (JARVIS_HTTP): expected HOST:PORT, got {listen!r}")
        self.config = uvicorn.Config(
            app, host=host, port=int(port), log_level="warning", access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(self.config)
        self._thread = threading.Thread(target=self.server.run, name="jarvis-http", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
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
        self._thread.join(10)
