"""A daemon thread that runs a loop until stopped: the shape the member's heartbeat
(:mod:`jarvis.election.liveness`) and its connection watchdog
(:mod:`jarvis.election.watchdog`) share."""

from __future__ import annotations

import threading

__all__ = ["Background"]


class Background:
    """Runs :meth:`_run` on a daemon thread named ``thread_name`` from :meth:`start`
    until :meth:`stop`. ``_run`` loops while ``self._stopping`` is clear and waits on it
    (``self._stopping.wait(seconds)``) so that a stop ends a wait at once."""

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; a second call while it runs does nothing."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait for it a second at most (a daemon thread that is
        still blocked then ends with the process)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError
