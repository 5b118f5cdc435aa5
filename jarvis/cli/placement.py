"""`jarvis freeze`, `jarvis unfreeze`, `jarvis move`: the operator steers placement.

The controls live in ZooKeeper (:class:`~jarvis.election.PlacementControls`) and every
member applies them (:mod:`jarvis.election.placement`). Unknown partitions, members or
zones exit with code 2 and a message; a move that does not finish within ``--timeout``
exits with 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from jarvis.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_connection_flags,
    env,
    positive_float,
    zookeeper,
)
from jarvis.election import ClusterView, MoveRequest, PartitionRegistry, PlacementControls
from jarvis.errors import BadInputError
from jarvis.models import check_name
from jarvis.store.keys import check_partition_id

__all__ = ["add_placement_commands"]

_POLL = 0.2


def _cmd_freeze(args: argparse.Namespace) -> int:
    with zookeeper(args) as client:
        node = PlacementControls(client, args.cluster).freeze(args.reason, time.time())
    print(f"cluster {args.cluster} frozen ({node.reason or 'no reason given'}): no voluntary moves")
    return EXIT_OK


def _cmd_unfreeze(args: argparse.Namespace) -> int:
    with zookeeper(args) as client:
        PlacementControls(client, args.cluster).unfreeze()
    print(f"cluster {args.cluster} unfrozen: balance moves partitions again")
    return EXIT_OK


def _cmd_move(args: argparse.Namespace) -> int:
    partition = check_partition_id(args.partition)
    member = None if args.to is None else check_name(args.to, "member id")
    zone = None if args.zone is None else check_name(args.zone, "zone")
    where = f"member {member}" if member is not None else f"zone {zone}"
    with zookeeper(args) as client:
        if PartitionRegistry(client, args.cluster).get(partition) is None:
            raise BadInputError(f"no such partition {partition!r}")
        view = ClusterView(client, args.cluster)
        live = [m for m in view.members() if not m.draining]
        if member is not None and member not in {m.member for m in live}:
            raise BadInputError(f"no live, non-draining member {member!r}")
        if zone is not None and zone not in {m.zone for m in live}:
            raise BadInputError(f"no live, non-draining member in zone {zone!r}")

        def arrived() -> bool:
            row = next((r for r in view.partitions() if r.partition == partition), None)
            if row is None:
                raise BadInputError(f"partition {partition!r} was removed")
            return row.owner == member if member is not None else row.zone == zone

        if arrived():
            print(f"{partition} is already on {where}")
            return EXIT_OK
        request = MoveRequest(member=member, zone=zone, requested_at=time.time())
        PlacementControls(client, args.cluster).request_move(partition, request)
        print(f"asked to move {partition} to {where}", flush=True)
        if args.no_wait:
            return EXIT_OK
        deadline = time.monotonic() + args.timeout
        while not arrived():
            if time.monotonic() >= deadline:
                print(
                    f"jarvis: {partition} is not on {where} after {args.timeout:.0f} s "
                    "(the request stays until it is carried out or its target is gone)",
                    file=sys.stderr,
                )
                return EXIT_FAILURE
            time.sleep(_POLL)
    print(f"{partition} is on {where}")
    return EXIT_OK


def add_placement_commands(sub: Any) -> None:
    freeze = sub.add_parser("freeze", help="maintenance mode: no voluntary partition moves")
    freeze.add_argument("--reason", default="", help="why (shown by partitions and members)")
    add_connection_flags(freeze)
    freeze.set_defaults(handler=_cmd_freeze)

    unfreeze = sub.add_parser("unfreeze", help="leave maintenance mode")
    add_connection_flags(unfreeze)
    unfreeze.set_defaults(handler=_cmd_unfreeze)

    move = sub.add_parser("move", help="hand a partition over to a member or a zone")
    move.add_argument("partition", help="partition id")
    target = move.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="MEMBER", help="the member that should own it")
    target.add_argument("--zone", metavar="ZONE", help="a zone one of whose members should")
    add_connection_flags(move)
    wait = move.add_mutually_exclusive_group()
    wait.add_argument("--no-wait", action="store_true", help="return once asked")
    wait.add_argument(
        "--timeout",
        type=positive_float,
        default=float(env("JARVIS_MOVE_TIMEOUT", "60") or 60),
        help="seconds to wait until it is there (env JARVIS_MOVE_TIMEOUT)",
    )
    move.set_defaults(handler=_cmd_move)
