"""`jarvis dead-letters`: a partition's dead letters, and a corrected event re-submitted.

::

    jarvis dead-letters PARTITION [--json] [--limit N] [--after ID]
    jarvis dead-letters PARTITION --resubmit ID --event JSON

Lists the partition's dead-letter stream, oldest first: one line per entry (its id, the
stream id the event had, the writer's epoch, the reason, whether it was re-submitted)
and, indented, the raw event; ``--json`` prints one JSON object per entry.
``--resubmit ID --event JSON`` validates the corrected event (it must be for this
partition), appends it to the incoming stream and marks dead letter ID as re-submitted,
atomically and once (again: nothing written, the first re-submission is shown). The
write is confirmed by replicas like a member's (``redis_min_replicas``). An invalid
event, a bad id or an unknown dead letter exits with 2 and a message.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from jarvis.cli.common import EXIT_OK, add_connection_flags, env, positive_int, script_runner
from jarvis.errors import BadInputError, NotFoundError
from jarvis.store.dead_letters import DeadLetter, DeadLetters
from jarvis.store.keys import check_partition_id

__all__ = ["add_dead_letter_commands"]


def _print(letter: DeadLetter) -> None:
    done = letter.resubmitted
    state = f"resubmitted as {done.stream_id} (event {done.event_id})" if done else "pending"
    print(f"{letter.id}  stream_id={letter.stream_id}  epoch={letter.epoch}  {state}")
    print(f"    reason: {letter.reason}")
    print(f"    event:  {letter.event}")


def _cmd_dead_letters(args: argparse.Namespace) -> int:
    partition = check_partition_id(args.partition)
    if (args.resubmit is None) != (args.event is None):
        raise BadInputError("--resubmit ID and --event JSON go together")
    scripts = script_runner(args, args.redis)
    try:
        letters = DeadLetters(scripts.client, args.namespace, scripts=scripts)
        if args.resubmit is not None:
            try:
                event: Any = json.loads(args.event)
            except ValueError as exc:
                raise BadInputError(f"--event is not JSON: {exc}") from exc
            try:
                now, done = letters.resubmit(partition, args.resubmit, event)
            except NotFoundError as exc:
                raise BadInputError(str(exc)) from exc
            what = "re-submitted" if now else "already re-submitted"
            print(f"{args.resubmit}: {what} as {done.stream_id} (event {done.event_id})")
            return EXIT_OK
        found = letters.list(partition, args.limit, args.after or "")
    finally:
        scripts.client.close()
    for letter in found:
        if args.json:
            print(json.dumps(letter.as_dict()))
        else:
            _print(letter)
    if not args.json:
        print(f"{len(found)} dead letter(s) in partition {partition}")
    return EXIT_OK


def add_dead_letter_commands(sub: Any) -> None:
    cmd = sub.add_parser(
        "dead-letters", help="list a partition's dead letters, or re-submit a corrected event"
    )
    cmd.add_argument("partition", help="partition (city or store) id")
    cmd.add_argument("--json", action="store_true", help="one JSON object per dead letter")
    cmd.add_argument(
        "--limit", type=positive_int, default=100, help="list at most this many (oldest first)"
    )
    cmd.add_argument("--after", metavar="ID", help="list only those after this dead-letter id")
    cmd.add_argument("--resubmit", metavar="ID", help="the dead letter to re-submit")
    cmd.add_argument("--event", metavar="JSON", help="the corrected event (with --resubmit)")
    add_connection_flags(cmd, redis=True)
    cmd.add_argument(
        "--namespace",
        default=env("JARVIS_NAMESPACE", "jarvis"),
        help="prefix of every Redis key (env JARVIS_NAMESPACE)",
    )
    cmd.set_defaults(handler=_cmd_dead_letters)
