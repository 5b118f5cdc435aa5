"""The `jarvis` command (also `python -m jarvis`).

Every command takes ``--zk`` (``JARVIS_ZK``) and ``--cluster`` (``JARVIS_CLUSTER``);
commands that touch state take ``--redis`` (``JARVIS_REDIS``). Bad arguments exit with
:data:`EXIT_USAGE` (2) and a message on standard error. Logging handlers are configured
here and nowhere else.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from jarvis import __version__
from jarvis.errors import ConfigError, JarvisError, ServerError, ValidationError

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int]


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def _add_connection_flags(parser: argparse.ArgumentParser, redis: bool = False) -> None:
    parser.add_argument(
        "--zk",
        default=_env("JARVIS_ZK", "127.0.0.1:2181"),
        help="ZooKeeper hosts, host:port[,host:port...] (env JARVIS_ZK)",
    )
    parser.add_argument(
        "--cluster",
        default=_env("JARVIS_CLUSTER", "default"),
        help="cluster name: the ZooKeeper root /jarvis/<cluster> (env JARVIS_CLUSTER)",
    )
    if redis:
        parser.add_argument(
            "--redis",
            default=_env("JARVIS_REDIS", "redis://127.0.0.1:6379/0"),
            help="Redis URL, redis://host:port/db (env JARVIS_REDIS)",
        )


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but usage errors exit with :data:`EXIT_USAGE` and one clear line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# --- demo ---------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from jarvis.devcluster import DevCluster

    stop = threading.Event()
    _on_signals(lambda: stop.set())
    with DevCluster() as servers:
        print(f"ZooKeeper  {servers.zookeeper.hosts}")
        print(f"Redis      {servers.redis.url}")
        print(f"running for {args.duration:.0f} s (Ctrl-C stops)", flush=True)
        deadline = time.monotonic() + args.duration
        while not stop.is_set() and time.monotonic() < deadline:
            stop.wait(0.2)
    print("servers stopped")
    return EXIT_OK


# --- plumbing -----------------------------------------------------------------------


def _on_signals(first: Callable[[], None]) -> None:
    """Call ``first`` on the first SIGTERM or SIGINT; a second one exits at once."""
    seen = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if seen.is_set():
            os._exit(EXIT_INTERRUPTED)
        seen.set()
        log.info("signal %s: stopping (send it again to exit at once)", signum)
        first()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="jarvis", description="Jarvis dispatching engine")
    parser.add_argument("--version", action="version", version=f"jarvis {__version__}")
    parser.add_argument(
        "--log-level",
        default=_env("JARVIS_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (env JARVIS_LOG_LEVEL)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)

    demo = sub.add_parser("demo", help="a local cluster with simulated traffic")
    demo.add_argument(
        "--duration",
        type=float,
        default=float(_env("JARVIS_DEMO_DURATION", "60") or 60),
        help="seconds to run (env JARVIS_DEMO_DURATION)",
    )
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except (ValidationError, ConfigError) as exc:
        print(f"jarvis: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ServerError as exc:
        print(f"jarvis: cannot reach a server: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except JarvisError as exc:
        print(f"jarvis: {exc}", file=sys.stderr)
        return EXIT_FAILURE
