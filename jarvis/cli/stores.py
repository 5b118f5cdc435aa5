"""`jarvis stores`: which stores need help most, with the parts of each score.

::

    jarvis stores [--json] [--limit N] [--redis URL] [--namespace NS]

One line per store, neediest first: its score, then its parts (urgency-weighted queued
work, queued items, of them remotable, associates present, completions per minute, and
how long the oldest queued item is past its start-by). ``--json`` prints one object with
the formula, the weights and the stores (as ``GET /v1/stores/ranking``). The weights
and windows are the ``ranking_*`` settings (``JARVIS_RANKING_*``; the formula is in
:mod:`jarvis.store.work.ranking`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from jarvis.cli.common import (
    EXIT_OK,
    add_connection_flags,
    connection_settings,
    env,
    positive_int,
    redis_for,
)
from jarvis.store.work.queue import WorkQueue
from jarvis.store.work.ranking import FORMULA, StoreNeed, store_needs

__all__ = ["add_stores_commands"]

_RANKING_SETTINGS = (
    "ranking_work_weight",
    "ranking_associate_weight",
    "ranking_throughput_weight",
    "ranking_presence_s",
    "ranking_throughput_s",
)
_COLUMNS = ("store", "score", "work", "queued", "remotable", "associates", "done/min", "overdue")


def _row(need: StoreNeed) -> tuple[str, ...]:
    return (
        need.store,
        f"{need.score:g}",
        str(need.work),
        str(need.queued),
        str(need.remotable),
        str(need.associates),
        f"{need.completions_per_min:.2f}",
        f"{need.overdue_s:.0f}s",
    )


def _print_table(needs: list[StoreNeed]) -> None:
    rows = [_COLUMNS, *(_row(n) for n in needs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _cmd_stores(args: argparse.Namespace) -> int:
    from jarvis.connections import ranking_weights

    weights = ranking_weights(connection_settings(args, args.redis, _RANKING_SETTINGS))
    client = redis_for(args, args.redis)
    try:
        needs = store_needs(WorkQueue(client, args.namespace), weights, args.limit)
    finally:
        client.close()
    if args.json:
        out: dict[str, Any] = {
            "formula": FORMULA,
            "weights": weights.as_dict(),
            "stores": [n.as_dict() for n in needs],
        }
        print(json.dumps(out))
        return EXIT_OK
    _print_table(needs)
    print(f"{len(needs)} store(s); {FORMULA}")
    return EXIT_OK


def add_stores_commands(sub: Any) -> None:
    stores = sub.add_parser("stores", help="which stores need help most, with each score's parts")
    stores.add_argument("--json", action="store_true", help="one JSON object")
    stores.add_argument(
        "--limit", type=positive_int, default=100, help="list at most this many stores"
    )
    add_connection_flags(stores, redis=True)
    stores.add_argument(
        "--namespace",
        default=env("JARVIS_NAMESPACE", "jarvis"),
        help="prefix of every Redis key (env JARVIS_NAMESPACE)",
    )
    stores.set_defaults(handler=_cmd_stores)
