"""`jarvis work`: what an operator does with a store's work.

::

    jarvis work dead STORE [--retry ID | --discard ID] [--json] [--limit N]

``dead`` lists the store's dead set (items that used up their attempts), oldest first:
one line per item (id, attempts, why the last claim came back, when) and, indented, its
history; ``--json`` prints one JSON object per item instead. ``--retry ID`` queues a
dead item again at its old place with its attempts counted from zero; ``--discard ID``
drops it for good. A bad store id, or an ID that is not in the dead set, exits with 2
and a message. Retry and discard are confirmed by replicas like a member's writes
(``redis_min_replicas``, default 1 with ``JARVIS_REDIS_MODE=cluster``): too few
confirmations in time exit with 1 (the outcome is unknown; both are idempotent, run
again).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from jarvis.cli.common import EXIT_OK, add_connection_flags, env, positive_int, script_runner
from jarvis.errors import BadInputError, NotFoundError
from jarvis.store.keys import check_partition_id
from jarvis.store.work.dead import DeadItem
from jarvis.store.work.queue import WorkQueue

__all__ = ["add_work_commands"]


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + "Z"


def _as_json(dead: DeadItem) -> dict[str, Any]:
    return {
        "item": dead.item.model_dump(mode="json"),
        "attempts": dead.attempts,
        "died_at": dead.died_at,
        "why": dead.why,
        "history": list(dead.history),
    }


def _print_dead(dead: DeadItem) -> None:
    print(f"{dead.item.id}  attempts={dead.attempts}  {dead.why} at {_when(dead.died_at)}")
    for entry in dead.history:
        if entry.get("why") == "retried":
            print(f"    retried at {_when(float(entry['r']))}")
            continue
        print(
            f"    claim {entry.get('t')} by {entry.get('a')} at {_when(float(entry['c']))}: "
            f"{entry.get('why')} at {_when(float(entry['r']))}"
        )


def _cmd_dead(args: argparse.Namespace) -> int:
    store = check_partition_id(args.store)
    scripts = script_runner(args, args.redis)
    client = scripts.client
    try:
        work = WorkQueue(client, args.namespace, scripts=scripts)
        try:
            if args.retry is not None:
                work.retry_dead(store, args.retry)
                print(f"{args.retry}: queued again in store {store}")
                return EXIT_OK
            if args.discard is not None:
                work.discard_dead(store, args.discard)
                print(f"{args.discard}: discarded from store {store}")
                return EXIT_OK
        except NotFoundError as exc:
            raise BadInputError(str(exc)) from exc
        items = work.dead_items(store, args.limit)
        if args.json:
            for dead in items:
                print(json.dumps(_as_json(dead)))
        else:
            for dead in items:
                _print_dead(dead)
            print(f"{len(items)} dead item(s) in store {store}")
    finally:
        client.close()
    return EXIT_OK


def add_work_commands(sub: Any) -> None:
    work = sub.add_parser("work", help="a store's work: the dead set")
    commands = work.add_subparsers(dest="work_command", required=True)
    dead = commands.add_parser(
        "dead", help="list a store's dead work items, or retry or discard one"
    )
    dead.add_argument("store", help="store (partition) id")
    action = dead.add_mutually_exclusive_group()
    action.add_argument("--retry", metavar="ID", help="queue this dead item again")
    action.add_argument("--discard", metavar="ID", help="drop this dead item for good")
    dead.add_argument("--json", action="store_true", help="one JSON object per item")
    dead.add_argument(
        "--limit", type=positive_int, default=100, help="list at most this many (oldest first)"
    )
    add_connection_flags(dead, redis=True)
    dead.add_argument(
        "--namespace",
        default=env("JARVIS_NAMESPACE", "jarvis"),
        help="prefix of every Redis key (env JARVIS_NAMESPACE)",
    )
    dead.set_defaults(handler=_cmd_dead)
