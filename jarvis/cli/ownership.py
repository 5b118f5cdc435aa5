"""`jarvis partitions`, `jarvis members`, `jarvis drain`: ownership as ZooKeeper has it.

Both listings say when the cluster is frozen (``jarvis freeze``, see
:mod:`jarvis.cli.placement`); partitions also show pins and pending moves.

The contract of these commands (scripts depend on it) is in :mod:`jarvis.cli.main`. They
connect with the configured ZooKeeper credentials (``JARVIS_ZK_AUTH``,
``JARVIS_ZK_AUTH_FILE`` or ``--zk-auth-file``): with ACLs on, a client without them
sees nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from jarvis.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    ArgumentParser,
    add_connection_flags,
    add_leaf_connection_flags,
    env,
    on_signals,
    positive_float,
    positive_int,
    redis_for,
    zookeeper,
)
from jarvis.config import mask_url
from jarvis.election import KINDS, ClusterView, PartitionRegistry
from jarvis.errors import BadInputError, ServerError
from jarvis.models import NAME, check_name
from jarvis.store.keys import DEFAULT_NAMESPACE, check_partition_id

__all__ = ["add_ownership_commands"]

_TABLE_GAP = "  "
_POLL = 0.2


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


def _tick_ages(args: argparse.Namespace, partitions: Sequence[str]) -> dict[str, float | None]:
    """Seconds since each partition's last tick (``last_tick_at`` in its stats hash)."""
    import redis

    from jarvis.store.keys import PartitionKeys

    url, namespace = args.redis, args.namespace
    client = redis_for(args, url)
    try:
        pipe = client.pipeline(transaction=False)
        for partition in partitions:
            pipe.hget(PartitionKeys(partition, namespace).stats, "last_tick_at")
        values = pipe.execute()
    except (redis.RedisError, ValueError) as exc:
        raise ServerError(f"Redis at {mask_url(url)}: {exc!r}") from exc
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


def _frozen_line(view: ClusterView) -> str:
    """One line saying the cluster is frozen, or nothing."""
    controls = view.controls()
    if not controls.frozen:
        return ""
    reason = f": {controls.reason}" if controls.reason else ""
    return f"\nFROZEN since {_utc(controls.frozen_at)}{reason} (no voluntary moves)"


def _partitions_report(args: argparse.Namespace, view: ClusterView) -> str:
    rows = view.partitions()
    ages = None
    if args.redis:
        ages = _tick_ages(args, [r.partition for r in rows])
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
    if any(r.pin is not None or r.moving_to is not None for r in rows):
        headers += ["PIN", "MOVING TO"]
        for line, row in zip(table, rows, strict=True):
            line += [row.pin or "-", row.moving_to or "-"]
    if any(r.weight != 1.0 for r in rows):  # weighted balance: show what it weighs
        headers.append("WEIGHT")
        for line, row in zip(table, rows, strict=True):
            line.append(f"{row.weight:g}")
    owned = sum(1 for r in rows if r.owner is not None)
    summary = f"\n{len(rows)} partitions, {owned} owned"
    unowned = _unowned_warning(view, len(rows) - owned)
    return _table(headers, table) + summary + unowned + _frozen_line(view)


def _unowned_warning(view: ClusterView, unowned: int) -> str:
    """A warning line when partitions have no owner, saying why if members are full."""
    if unowned == 0:
        return ""
    members = [m for m in view.members() if not m.draining]
    if not members:
        return f"\nwarning: {unowned} partition(s) have no owner: no member is running"
    caps = [m.max_partitions for m in members]
    if all(cap is not None and m.partitions >= cap for m, cap in zip(members, caps, strict=True)):
        return (
            f"\nwarning: {unowned} partition(s) have no owner: every member is at its "
            "max_partitions (add a member or raise JARVIS_MAX_PARTITIONS)"
        )
    return f"\nwarning: {unowned} partition(s) have no owner yet"


def _cmd_partitions(args: argparse.Namespace) -> int:
    if args.namespace is not None and not NAME.match(args.namespace):
        raise BadInputError(f"invalid --namespace {args.namespace!r}")
    with zookeeper(args) as client:
        view = ClusterView(client, args.cluster)
        if not args.watch:
            print(_partitions_report(args, view))
            return EXIT_OK
        stop = threading.Event()
        on_signals(stop.set)
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
        raise BadInputError(f"--config is not valid JSON: {exc}") from exc
    with zookeeper(args) as client:
        info = PartitionRegistry(client, args.cluster).add(partition, args.kind, config)
    print(f"partition {info.id} ({info.kind}) added")
    return EXIT_OK


def _cmd_partitions_remove(args: argparse.Namespace) -> int:
    partition = check_partition_id(args.partition)
    with zookeeper(args) as client:
        PartitionRegistry(client, args.cluster).remove(partition)
    print(f"partition {partition} removed")
    return EXIT_OK


def _cmd_members(args: argparse.Namespace) -> int:
    with zookeeper(args) as client:
        view = ClusterView(client, args.cluster)
        rows = view.members()
        frozen = "" if args.json else _frozen_line(view)
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
    if any(r.weight != r.partitions for r in rows):  # weighted balance
        headers.append("WEIGHT")
        for line, row in zip(table, rows, strict=True):
            line.append(f"{row.weight:g}")
    print(_table(headers, table) + f"\n{len(rows)} members" + frozen)
    return EXIT_OK


def _cmd_drain(args: argparse.Namespace) -> int:
    member = check_name(args.member, "member id")
    with zookeeper(args) as client:
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


def add_ownership_commands(sub: Any) -> None:
    partitions = sub.add_parser("partitions", help="partitions and their owners")
    add_connection_flags(partitions)
    partitions.add_argument("--json", action="store_true", help="print a JSON list")
    partitions.add_argument(
        "--watch",
        type=positive_float,
        nargs="?",
        const=2.0,
        default=None,
        metavar="SECONDS",
        help="refresh every SECONDS (default 2) until interrupted",
    )
    partitions.add_argument(
        "--count", type=positive_int, default=None, help="with --watch: stop after COUNT"
    )
    partitions.add_argument(
        "--redis",
        default=env("JARVIS_REDIS"),
        help="Redis URL; adds each partition's last tick age (env JARVIS_REDIS)",
    )
    partitions.add_argument(
        "--namespace",
        default=env("JARVIS_NAMESPACE", DEFAULT_NAMESPACE),
        help="Redis key namespace (env JARVIS_NAMESPACE)",
    )
    partitions.set_defaults(handler=_cmd_partitions)
    actions = partitions.add_subparsers(dest="action", parser_class=ArgumentParser)
    add = actions.add_parser("add", help="register a partition")
    add.add_argument("partition", help="partition id: 1-64 letters, digits, '-', '_', '.'")
    add.add_argument("kind", choices=KINDS, help="what the partition is")
    add.add_argument("--config", default="{}", help="partition config, a JSON object")
    add_leaf_connection_flags(add)
    add.set_defaults(handler=_cmd_partitions_add)
    remove = actions.add_parser("remove", help="unregister a partition (its owner stops)")
    remove.add_argument("partition", help="partition id")
    add_leaf_connection_flags(remove)
    remove.set_defaults(handler=_cmd_partitions_remove)

    members = sub.add_parser("members", help="live members and what they hold")
    add_connection_flags(members)
    members.add_argument("--json", action="store_true", help="print a JSON list")
    members.set_defaults(handler=_cmd_members)

    drain = sub.add_parser("drain", help="ask a member to give all its partitions away")
    drain.add_argument("member", help="member id")
    add_connection_flags(drain)
    wait = drain.add_mutually_exclusive_group()
    wait.add_argument("--no-wait", action="store_true", help="return once asked")
    wait.add_argument(
        "--timeout",
        type=positive_float,
        default=float(env("JARVIS_DRAIN_TIMEOUT", "60") or 60),
        help="seconds to wait until it holds nothing (env JARVIS_DRAIN_TIMEOUT)",
    )
    drain.set_defaults(handler=_cmd_drain)
