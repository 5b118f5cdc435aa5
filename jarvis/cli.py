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
from pathlib import Path
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
    from jarvis.demo import run_demo

    stop = threading.Event()
    _on_signals(stop.set)
    report = run_demo(duration=args.duration, stop=stop)
    return EXIT_OK if report.ok else EXIT_FAILURE


# --- the engine: run, submit, decisions ----------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from jarvis.config import load_settings
    from jarvis.daemon import Daemon

    overrides = {
        name: getattr(args, name)
        for name in ("zk", "redis", "cluster", "zone", "member", "tick", "session_timeout", "http")
    }
    settings = load_settings(args.config, overrides=overrides)
    daemon = Daemon(settings)
    stop = threading.Event()
    _on_signals(stop.set)
    daemon.start()
    stop.wait()
    drained = daemon.stop(graceful=True)
    return EXIT_OK if drained else EXIT_FAILURE


def _read_lines(path: str | None) -> list[tuple[int, str]]:
    if path is None or path == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise ValidationError(f"cannot read {path}: {exc.strerror}") from exc
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _cmd_submit(args: argparse.Namespace) -> int:
    import redis

    from jarvis.models.events import parse_event
    from jarvis.store.producer import Producer

    events = []
    problems = []
    for number, line in _read_lines(args.file):
        try:
            events.append(parse_event(line))
        except ValidationError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:  # all or nothing: a bad line submits no line
        raise ValidationError("nothing submitted; " + "; ".join(problems[:20]))
    client = redis.Redis.from_url(args.redis, decode_responses=True)
    try:
        ids = Producer(client, args.namespace).submit_many(events)
    except redis.RedisError as exc:
        raise ServerError(f"Redis at {args.redis}: {exc}") from exc
    finally:
        client.close()
    print(f"submitted {len(ids)} event(s)")
    return EXIT_OK


def _cmd_decisions(args: argparse.Namespace) -> int:
    import json

    import redis

    from jarvis.store.city import CityStore
    from jarvis.store.keys import check_partition_id

    check_partition_id(args.partition)
    client = redis.Redis.from_url(args.redis, decode_responses=True)
    store = CityStore(client, args.partition, args.namespace)
    after = "-"
    try:
        while True:
            batch = store.decisions(after=after, count=1000)
            for decision in batch:
                after = decision.id
                if args.json:
                    print(json.dumps(decision.as_json()), flush=True)
                else:
                    print(
                        f"{decision.partition}  epoch={decision.epoch}  tick={decision.tick}  "
                        f"{decision.task} -> {decision.worker}",
                        flush=True,
                    )
            if not args.follow:
                return EXIT_OK
            if not batch:
                time.sleep(0.2)
    except redis.RedisError as exc:
        raise ServerError(f"Redis at {args.redis}: {exc}") from exc
    except (KeyboardInterrupt, BrokenPipeError):
        return EXIT_OK
    finally:
        client.close()


def _add_namespace_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace",
        default=_env("JARVIS_NAMESPACE", "jarvis"),
        help="prefix of every Redis key (env JARVIS_NAMESPACE)",
    )


def _add_engine_commands(sub: argparse._SubParsersAction[_ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run a member (the long-running daemon)")
    run.add_argument(
        "--config",
        type=Path,
        default=_env("JARVIS_CONFIG"),
        help="TOML settings file (env JARVIS_CONFIG)",
    )
    # Defaults come from the settings (file < JARVIS_* < these flags): None = not given.
    run.add_argument("--zk", help="ZooKeeper hosts (env JARVIS_ZK)")
    run.add_argument("--redis", help="Redis URL, redis://host:port/db (env JARVIS_REDIS)")
    run.add_argument("--cluster", help="cluster name (env JARVIS_CLUSTER)")
    run.add_argument("--zone", help="availability zone (env JARVIS_ZONE)")
    run.add_argument("--member", help="member id, default host-pid (env JARVIS_MEMBER)")
    run.add_argument("--tick", type=float, help="seconds between ticks (env JARVIS_TICK)")
    run.add_argument(
        "--session-timeout",
        type=float,
        help="ZooKeeper session timeout, seconds (env JARVIS_SESSION_TIMEOUT)",
    )
    run.add_argument("--http", help="HOST:PORT for the HTTP interface (env JARVIS_HTTP)")
    run.set_defaults(handler=_cmd_run)

    submit = sub.add_parser("submit", help="submit events, one JSON object per line")
    _add_connection_flags(submit, redis=True)
    _add_namespace_flag(submit)
    submit.add_argument("file", nargs="?", help="file of JSON lines (default: standard input)")
    submit.set_defaults(handler=_cmd_submit)

    decisions = sub.add_parser("decisions", help="print a partition's decisions (out stream)")
    _add_connection_flags(decisions, redis=True)
    _add_namespace_flag(decisions)
    decisions.add_argument("partition")
    decisions.add_argument("--json", action="store_true", help="one JSON object per line")
    decisions.add_argument("--follow", action="store_true", help="keep tailing")
    decisions.set_defaults(handler=_cmd_decisions)


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
    _add_engine_commands(sub)
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
