"""The `jarvis` command (also `python -m jarvis`).

Every command takes ``--zk`` (``JARVIS_ZK``) and ``--cluster`` (``JARVIS_CLUSTER``);
commands that touch state take ``--redis`` (``JARVIS_REDIS``). Bad arguments exit with
:data:`EXIT_USAGE` (2) and a message on standard error. Logging handlers are configured
here and nowhere else.

Ownership commands (scripts depend on them; keep them stable)::

    jarvis partitions [--json] [--watch [SECONDS]] [--count N] [--redis URL] [--namespace NS]
    jarvis partitions add ID {city,store} [--config JSON]
    jarvis partitions remove ID
    jarvis members [--json]
    jarvis drain MEMBER [--timeout SECONDS | --no-wait]

``partitions --json`` prints a list with one object per partition: ``partition``,
``kind``, ``owner``, ``zone``, ``epoch`` (the owner node's czxid), ``since`` (unix
seconds); the last four are null when unowned. With ``--redis`` each also has
``last_tick_age`` (seconds since ``last_tick_at`` in the partition's stats hash, or
null). ``members --json`` prints one object per live member: ``member``, ``zone``,
``partitions`` (count), ``draining``, ``version``, ``host``, ``pid``. ``drain`` asks the
member (through ZooKeeper) to give every partition away and waits until it holds none
(exit 1 if it still holds some after ``--timeout``, env ``JARVIS_DRAIN_TIMEOUT``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from jarvis import __version__
from jarvis.election import KINDS, NAME, ClusterView, PartitionRegistry, check_name
from jarvis.errors import ConfigError, JarvisError, ServerError, ValidationError
from jarvis.store.keys import DEFAULT_NAMESPACE, check_partition_id

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


# --- partitions, members, drain -----------------------------------------------------

_TABLE_GAP = "  "
_CONNECT_TIMEOUT = 10.0
_POLL = 0.2


@contextlib.contextmanager
def _zookeeper(args: argparse.Namespace) -> Iterator[KazooClient]:
    """A started kazoo client for ``--zk``; ServerError when it cannot connect."""
    check_name(args.cluster, "cluster name")
    try:
        client = KazooClient(hosts=args.zk, timeout=_CONNECT_TIMEOUT)
    except (ValueError, KazooException) as exc:
        raise ConfigError(f"invalid --zk {args.zk!r}: {exc}") from exc
    try:
        client.start(timeout=_CONNECT_TIMEOUT)
    except (KazooTimeoutError, KazooException) as exc:
        client.close()
        raise ServerError(f"ZooKeeper at {args.zk}: {exc!r}") from exc
    try:
        yield client
    finally:
        client.stop()
        client.close()


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [_TABLE_GAP.join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in rows:
        lines.append(_TABLE_GAP.join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def _utc(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _tick_ages(url: str, namespace: str, partitions: Sequence[str]) -> dict[str, float | None]:
    """Seconds since each partition's last tick (``last_tick_at`` in its stats hash)."""
    import redis

    from jarvis.store.keys import PartitionKeys

    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        pipe = client.pipeline(transaction=False)
        for partition in partitions:
            pipe.hget(PartitionKeys(partition, namespace).stats, "last_tick_at")
        values = pipe.execute()
    except (redis.RedisError, ValueError) as exc:
        raise ServerError(f"Redis at {url}: {exc!r}") from exc
    finally:
        client.close()
    now = time.time()
    ages: dict[str, float | None] = {}
    for partition, value in zip(partitions, values, strict=True):
        try:
            ages[partition] = max(0.0, now - float(value)) if value is not None else None
        except ValueError:
            ages[partition] = None
    return ages


def _partitions_report(args: argparse.Namespace, view: ClusterView) -> str:
    rows = view.partitions()
    ages = None
    if args.redis:
        ages = _tick_ages(args.redis, args.namespace, [r.partition for r in rows])
    if args.json:
        documents = [row.as_dict() for row in rows]
        if ages is not None:
            for document in documents:
                document["last_tick_age"] = ages[document["partition"]]
        return json.dumps(documents, indent=None if args.watch else 2)
    headers = ["PARTITION", "KIND", "OWNER", "ZONE", "EPOCH", "SINCE"]
    table = [
        [
            r.partition,
            r.kind,
            r.owner or "-",
            r.zone or "-",
            "-" if r.epoch is None else str(r.epoch),
            _utc(r.since),
        ]
        for r in rows
    ]
    if ages is not None:
        headers.append("LAST TICK")
        for line, row in zip(table, rows, strict=True):
            age = ages[row.partition]
            line.append("-" if age is None else f"{age:.1f}s ago")
    owned = sum(1 for r in rows if r.owner is not None)
    return _table(headers, table) + f"\n{len(rows)} partitions, {owned} owned"


def _cmd_partitions(args: argparse.Namespace) -> int:
    if args.namespace is not None and not NAME.match(args.namespace):
        raise ValidationError(f"invalid --namespace {args.namespace!r}")
    with _zookeeper(args) as client:
        view = ClusterView(client, args.cluster)
        if not args.watch:
            print(_partitions_report(args, view))
            return EXIT_OK
        stop = threading.Event()
        _on_signals(stop.set)
        shown = 0
        while not stop.is_set():
            report = _partitions_report(args, view)
            if sys.stdout.isatty() and not args.json:
                print("\x1b[H\x1b[2J", end="")
            print(report if args.json else f"{_utc(time.time())}\n{report}\n", flush=True)
            shown += 1
            if args.count is not None and shown >= args.count:
                break
            stop.wait(args.watch)
    return EXIT_OK


def _cmd_partitions_add(args: argparse.Namespace) -> int:
    partition = check_partition_id(args.partition)
    try:
        config = json.loads(args.config)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--config is not valid JSON: {exc}") from exc
    with _zookeeper(args) as client:
        info = PartitionRegistry(client, args.cluster).add(partition, args.kind, config)
    print(f"partition {info.id} ({info.kind}) added")
    return EXIT_OK


def _cmd_partitions_remove(args: argparse.Namespace) -> int:
    partition = check_partition_id(args.partition)
    with _zookeeper(args) as client:
        PartitionRegistry(client, args.cluster).remove(partition)
    print(f"partition {partition} removed")
    return EXIT_OK


def _cmd_members(args: argparse.Namespace) -> int:
    with _zookeeper(args) as client:
        rows = ClusterView(client, args.cluster).members()
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
        return EXIT_OK
    headers = ["MEMBER", "ZONE", "PARTITIONS", "DRAINING", "VERSION", "HOST", "PID"]
    table = [
        [
            r.member,
            r.zone,
            str(r.partitions),
            "yes" if r.draining else "no",
            r.version,
            r.host,
            str(r.pid),
        ]
        for r in rows
    ]
    print(_table(headers, table) + f"\n{len(rows)} members")
    return EXIT_OK


def _cmd_drain(args: argparse.Namespace) -> int:
    member = check_name(args.member, "member id")
    with _zookeeper(args) as client:
        view = ClusterView(client, args.cluster)
        view.request_drain(member, time.time())
        print(f"asked {member} to drain", flush=True)
        if args.no_wait:
            return EXIT_OK
        deadline = time.monotonic() + args.timeout
        while True:
            row = next((r for r in view.members() if r.member == member), None)
            if row is None or (row.draining and row.partitions == 0):
                print(f"{member} holds no partitions")
                return EXIT_OK
            if time.monotonic() >= deadline:
                print(
                    f"jarvis: {member} still holds {row.partitions} partitions "
                    f"after {args.timeout:.0f} s",
                    file=sys.stderr,
                )
                return EXIT_FAILURE
            time.sleep(_POLL)


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
    _add_ownership_commands(sub)
    _add_engine_commands(sub)
    return parser


def _add_leaf_connection_flags(parser: argparse.ArgumentParser) -> None:
    """Connection flags on a sub-subcommand, not overriding ones given before it."""
    _add_connection_flags(parser)
    for action in parser._actions:  # no default here: the parent command's one stands
        if action.dest in ("zk", "cluster"):
            action.default = argparse.SUPPRESS


def _add_ownership_commands(sub: Any) -> None:
    partitions = sub.add_parser("partitions", help="partitions and their owners")
    _add_connection_flags(partitions)
    partitions.add_argument("--json", action="store_true", help="print a JSON list")
    partitions.add_argument(
        "--watch",
        type=_positive_float,
        nargs="?",
        const=2.0,
        default=None,
        metavar="SECONDS",
        help="refresh every SECONDS (default 2) until interrupted",
    )
    partitions.add_argument(
        "--count", type=_positive_int, default=None, help="with --watch: stop after COUNT"
    )
    partitions.add_argument(
        "--redis",
        default=_env("JARVIS_REDIS"),
        help="Redis URL; adds each partition's last tick age (env JARVIS_REDIS)",
    )
    partitions.add_argument(
        "--namespace",
        default=_env("JARVIS_NAMESPACE", DEFAULT_NAMESPACE),
        help="Redis key namespace (env JARVIS_NAMESPACE)",
    )
    partitions.set_defaults(handler=_cmd_partitions)
    actions = partitions.add_subparsers(dest="action", parser_class=_ArgumentParser)
    add = actions.add_parser("add", help="register a partition")
    add.add_argument("partition", help="partition id: 1-64 letters, digits, '-', '_', '.'")
    add.add_argument("kind", choices=KINDS, help="what the partition is")
    add.add_argument("--config", default="{}", help="partition config, a JSON object")
    _add_leaf_connection_flags(add)
    add.set_defaults(handler=_cmd_partitions_add)
    remove = actions.add_parser("remove", help="unregister a partition (its owner stops)")
    remove.add_argument("partition", help="partition id")
    _add_leaf_connection_flags(remove)
    remove.set_defaults(handler=_cmd_partitions_remove)

    members = sub.add_parser("members", help="live members and what they hold")
    _add_connection_flags(members)
    members.add_argument("--json", action="store_true", help="print a JSON list")
    members.set_defaults(handler=_cmd_members)

    drain = sub.add_parser("drain", help="ask a member to give all its partitions away")
    drain.add_argument("member", help="member id")
    _add_connection_flags(drain)
    wait = drain.add_mutually_exclusive_group()
    wait.add_argument("--no-wait", action="store_true", help="return once asked")
    wait.add_argument(
        "--timeout",
        type=_positive_float,
        default=float(_env("JARVIS_DRAIN_TIMEOUT", "60") or 60),
        help="seconds to wait until it holds nothing (env JARVIS_DRAIN_TIMEOUT)",
    )
    drain.set_defaults(handler=_cmd_drain)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


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
