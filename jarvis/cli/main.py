"""The `jarvis` command (also `python -m jarvis`).

Every command takes ``--zk`` (``JARVIS_ZK``) and ``--cluster`` (``JARVIS_CLUSTER``);
commands that touch state take ``--redis`` (``JARVIS_REDIS``). ZooKeeper credentials come
from ``JARVIS_ZK_AUTH`` or a file (``--zk-auth-file``, ``JARVIS_ZK_AUTH_FILE``), Redis
credentials and TLS from the URL and ``JARVIS_REDIS_*`` (see docs/configuration.md). Bad
arguments or settings exit with :data:`EXIT_USAGE` (2) and a message on standard error
naming them. Logging handlers are configured here (``--log-level``, ``--log-format``,
:mod:`jarvis.logs`) and nowhere else.

Member commands::

    jarvis run [--config FILE] [--SETTING VALUE ...]
    jarvis config check [--config FILE] [--SETTING VALUE ...] [--json]
    jarvis api [--workers N] [--config FILE] [--SETTING VALUE ...]

``jarvis api`` (:mod:`jarvis.cli.api`) serves the HTTP interface that needs no owner
from several processes.

The commands live in :mod:`jarvis.cli.settings` (run, config) and
:mod:`jarvis.cli.ownership` (partitions, members, drain), :mod:`jarvis.cli.placement`
(freeze, unfreeze, move) and :mod:`jarvis.cli.work` (``work dead STORE [--retry ID |
--discard ID]``, a store's dead work items), :mod:`jarvis.cli.stores` (``stores``, the
store ranking), :mod:`jarvis.cli.dead_letters` (``dead-letters PARTITION [--resubmit
ID --event JSON]``) and :mod:`jarvis.cli.simulate` (``simulate`` and ``replay``:
decision quality on a simulated or a recorded day).

Ownership commands (scripts depend on them; keep them stable)::

    jarvis partitions [--json] [--watch [SECONDS]] [--count N] [--redis URL] [--namespace NS]
    jarvis partitions add ID {city,store} [--config JSON]
    jarvis partitions remove ID
    jarvis members [--json]
    jarvis drain MEMBER [--timeout SECONDS | --no-wait]
    jarvis freeze [--reason TEXT]
    jarvis unfreeze
    jarvis move PARTITION (--to MEMBER | --zone ZONE) [--timeout SECONDS | --no-wait]

``partitions --json`` prints a list with one object per partition: ``partition``,
``kind``, ``owner``, ``zone``, ``epoch`` (the owner node's czxid), ``since`` (unix
seconds), null when unowned; ``pin`` and ``moving_to`` (``"member M"``, ``"zone Z"`` or
null) and ``frozen`` (the cluster is in maintenance mode). With ``--redis`` each also has
``last_tick_age`` (seconds since ``last_tick_at`` in the partition's stats hash, or
null). ``members --json`` prints one object per live member: ``member``, ``zone``,
``partitions`` (count), ``draining``, ``version``, ``host``, ``pid``, ``frozen``.
``drain`` asks the member (through ZooKeeper) to give every partition away and waits
until it holds none (exit 1 if it still holds some after ``--timeout``, env
``JARVIS_DRAIN_TIMEOUT``). ``freeze`` stops voluntary moves cluster-wide until
``unfreeze`` (failover and drains go on); ``move`` hands a partition to a member or a
zone and waits until it is there (exit 1 after ``--timeout``, env
``JARVIS_MOVE_TIMEOUT``); an unknown partition, member or zone exits with 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from jarvis import __version__
from jarvis.cli.api import add_api_command
from jarvis.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ArgumentParser,
    Handler,
    add_connection_flags,
    env,
    on_signals,
    redis_for,
)
from jarvis.cli.dead_letters import add_dead_letter_commands
from jarvis.cli.ownership import add_ownership_commands
from jarvis.cli.placement import add_placement_commands
from jarvis.cli.settings import add_settings_commands
from jarvis.cli.simulate import add_simulate_commands
from jarvis.cli.stores import add_stores_commands
from jarvis.cli.work import add_work_commands
from jarvis.config import load_settings, mask_url
from jarvis.errors import BadInputError, ConfigError, JarvisError, ServerError
from jarvis.logs import configure_logging

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

log = logging.getLogger(__name__)


# --- demo ---------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from jarvis.cli.demo import run_demo

    if logging.getLogger().level > logging.DEBUG:
        # The live view is the demo's output; the harness's own chatter would bury it.
        for name in (
            "kazoo",
            "jarvis.testing.servers",
            "jarvis.testing.cluster",
            "jarvis.election",
        ):
            logging.getLogger(name).setLevel(logging.WARNING)
    stop = threading.Event()
    on_signals(stop.set)
    result = run_demo(duration=args.duration, stop=stop, zones=args.zones)
    return EXIT_OK if result.ok else EXIT_FAILURE


# --- the engine: submit, decisions --------------------------------------------------


def _read_lines(path: str | None) -> list[tuple[int, str]]:
    if path is None or path == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise BadInputError(f"cannot read {path}: {exc.strerror}") from exc
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
        except BadInputError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:  # all or nothing: a bad line submits no line
        raise BadInputError("nothing submitted; " + "; ".join(problems[:20]))
    client = redis_for(args, args.redis)
    try:
        ids = Producer(client, args.namespace).submit_many(events)
    except redis.RedisError as exc:
        raise ServerError(f"Redis at {mask_url(args.redis)}: {exc}") from exc
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
    client = redis_for(args, args.redis)
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
        raise ServerError(f"Redis at {mask_url(args.redis)}: {exc}") from exc
    except (KeyboardInterrupt, BrokenPipeError):
        return EXIT_OK
    finally:
        client.close()


def _add_namespace_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace",
        default=env("JARVIS_NAMESPACE", "jarvis"),
        help="prefix of every Redis key (env JARVIS_NAMESPACE)",
    )


def _add_engine_commands(sub: Any) -> None:
    submit = sub.add_parser("submit", help="submit events, one JSON object per line")
    add_connection_flags(submit, redis=True)
    _add_namespace_flag(submit)
    submit.add_argument("file", nargs="?", help="file of JSON lines (default: standard input)")
    submit.set_defaults(handler=_cmd_submit)

    decisions = sub.add_parser("decisions", help="print a partition's decisions (out stream)")
    add_connection_flags(decisions, redis=True)
    _add_namespace_flag(decisions)
    decisions.add_argument("partition")
    decisions.add_argument("--json", action="store_true", help="one JSON object per line")
    decisions.add_argument("--follow", action="store_true", help="keep tailing")
    decisions.set_defaults(handler=_cmd_decisions)


# --- plumbing -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="jarvis", description="Jarvis dispatching engine")
    parser.add_argument("--version", action="version", version=f"jarvis {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (env JARVIS_LOG_LEVEL, default INFO)",
    )
    parser.add_argument(
        "--log-format",
        default=None,
        choices=["text", "json"],
        help="log line format: text, or json, one object per line "
        "(env JARVIS_LOG_FORMAT, default text)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    demo = sub.add_parser("demo", help="a local cluster with simulated traffic")
    demo.add_argument(
        "--duration",
        type=float,
        default=float(env("JARVIS_DEMO_DURATION", "60") or 60),
        help="seconds to run (env JARVIS_DEMO_DURATION)",
    )
    demo.add_argument(
        "--zones",
        action="store_true",
        help="three zones on a ZooKeeper ensemble and a Redis Cluster; zone a is lost "
        "part-way (member, ZooKeeper server and Redis primary SIGKILLed at once)",
    )
    demo.set_defaults(handler=_cmd_demo)
    add_api_command(sub)
    add_ownership_commands(sub)
    add_placement_commands(sub)
    add_settings_commands(sub)
    add_work_commands(sub)
    add_simulate_commands(sub)
    add_stores_commands(sub)
    add_dead_letter_commands(sub)
    _add_engine_commands(sub)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    """Logging from --log-level/--log-format or JARVIS_LOG_*; `run` refines it later."""
    keys = {"JARVIS_LOG_LEVEL", "JARVIS_LOG_FORMAT"}
    environ = {k: v for k, v in os.environ.items() if k in keys}
    overrides = {"log_level": args.log_level, "log_format": args.log_format}
    settings = load_settings(environ=environ, overrides=overrides)
    configure_logging(settings.log_level, settings.log_format)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        _configure_logging(args)
        return handler(args)
    except (BadInputError, ConfigError) as exc:
        print(f"jarvis: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ServerError as exc:
        print(f"jarvis: cannot reach a server: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except JarvisError as exc:
        print(f"jarvis: {exc}", file=sys.stderr)
        return EXIT_FAILURE
