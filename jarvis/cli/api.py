"""`jarvis api`: the stateless HTTP interface, in several processes on one port.

    jarvis api [--workers N] [--config FILE] [--SETTING VALUE ...]

Serves what needs no owner (:mod:`jarvis.api.standalone`: the store work endpoints,
get-work included, and event submission) from ``--workers`` processes (env
``JARVIS_API_WORKERS``, default: the number of cores) sharing the ``http`` address
(``--http HOST:PORT``, ``JARVIS_HTTP``, required). It reads the member's settings
(``redis*``, ``namespace``, ``claim_ttl``, ``work_max_attempts``, ``http_*``, logs) and
never touches ZooKeeper, so any number of hosts can run it beside the members.

SIGTERM or SIGINT stops it gracefully (each worker finishes its requests in flight):
exit 0 when every worker stopped cleanly, 1 otherwise; bad flags or settings exit 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from typing import Any

from jarvis.cli.common import EXIT_FAILURE, EXIT_OK, env, on_signals, positive_int
from jarvis.cli.settings import add_setting_flags, explain_args, secret_values
from jarvis.errors import ConfigError
from jarvis.logs import configure_logging

__all__ = ["add_api_command"]

log = logging.getLogger(__name__)

#: prometheus_client's multiprocess switch (jarvis.metrics.MULTIPROCESS_DIR; not imported
#: from there, since that imports prometheus_client).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def _cmd_api(args: argparse.Namespace) -> int:
    fresh = _metrics_dir()
    try:
        return _serve(args)
    finally:
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)


def _metrics_dir() -> str | None:
    """Turn on prometheus_client's multiprocess mode, so that ``/metrics`` shows every
    worker whichever one a scrape reaches (see :mod:`jarvis.metrics`). It must come
    before anything imports prometheus_client. The directory is the operator's
    ``PROMETHEUS_MULTIPROC_DIR`` (which they empty between runs) or a fresh one, returned
    to be removed at exit."""
    if os.environ.get(MULTIPROCESS_DIR):
        return None
    if "prometheus_client" in sys.modules:  # pragma: no cover - only when embedded
        log.warning("prometheus_client is already loaded: /metrics shows one worker each")
        return None
    fresh = tempfile.mkdtemp(prefix="jarvis-api-metrics-")
    os.environ[MULTIPROCESS_DIR] = fresh
    return fresh


def _serve(args: argparse.Namespace) -> int:
    import threading

    from jarvis.api import WorkerPool, standalone_app

    settings, _ = explain_args(args)
    if settings.http is None:
        raise ConfigError(
            "jarvis api needs an address to listen on: --http HOST:PORT (JARVIS_HTTP)"
        )
    configure_logging(settings.log_level, settings.log_format, secrets=secret_values(settings))

    def factory(stopping: threading.Event) -> Any:
        return standalone_app(settings, stopping)

    pool = WorkerPool(factory, settings.http, args.workers)
    on_signals(pool.stop)
    return EXIT_OK if pool.run() else EXIT_FAILURE


def add_api_command(sub: Any) -> None:
    api = sub.add_parser(
        "api",
        help="serve the HTTP interface without ownership (get-work, store work, events) "
        "from several processes",
    )
    api.add_argument(
        "--workers",
        type=positive_int,
        default=env("JARVIS_API_WORKERS", str(os.cpu_count() or 1)),
        help="worker processes sharing the port (env JARVIS_API_WORKERS, default: cores)",
    )
    add_setting_flags(api)
    api.set_defaults(handler=_cmd_api)
