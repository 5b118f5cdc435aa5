"""The idle checks of many partitions in as few Redis round trips as the deployment allows.

A member's scheduler worker takes up to 32 due ticks at once and sends their idle checks
(:mod:`jarvis.store.idle`) here first (:mod:`jarvis.actors.pipelined`). One exchange per
Redis node: a standalone server is one node; in a Redis Cluster the calls are grouped by
the primary serving their partition's slot. When replicas must confirm writes
(``runner.replication``), each exchange ends with one ``WAIT``, which confirms every
write sent before it on the same connection, so one confirms all the checks of that
node. Short of replicas, a check that recorded its tick is of unknown outcome
(:class:`~jarvis.errors.NotReplicatedError`, as when run alone); a busy one is None all
the same (it wrote only the fencing epoch; the full tick's own writes are confirmed, or
reported unknown, next). Each script stays one fenced, atomic call of one partition (a
pipeline is not a transaction): only round trips are shared.

An exchange is the commands written to one pooled connection at once and the replies
read back, as redis-py's pipeline does, without its per-command work: each call is
packed to RESP from its partition's keys packed once (``IdleCall.packed``), and scripts
go by digest alone (redis-py's script pipelines send ``SCRIPT EXISTS`` first, a second
round trip per batch). In a 2,000-partition member the pipeline and the packing were a
third of the GIL-holding samples. A node that does not know a script (restarted, or new
after a failover) replies ``NOSCRIPT`` to its calls, which therefore did not run: the
script is loaded there and those calls are sent once more.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis

from jarvis.errors import NotReplicatedError
from jarvis.store.exchange import exchange
from jarvis.store.idle import Checked, IdleCall, bulk, outcome
from jarvis.store.replication import node_for
from jarvis.store.runner import ScriptRunner, script_error
from jarvis.store.specs import ScriptSpec

__all__ = ["check_many"]

log = logging.getLogger(__name__)


def check_many(runner: ScriptRunner, calls: Sequence[IdleCall]) -> list[Checked]:
    """Run the idle checks ``calls`` (of partitions served by ``runner``); what each came
    to, in the order of ``calls``: the tick recorded, None (busy: the full tick is
    needed), or the error its own run would raise."""
    results: list[Checked] = [None] * len(calls)
    client = runner.client
    if isinstance(client, redis.RedisCluster):
        groups: dict[int, tuple[redis.Redis, list[int]]] = {}
        for i, call in enumerate(calls):
            node = node_for(client, call.key_list[0])
            groups.setdefault(id(node), (node, []))[1].append(i)
        nodes = list(groups.values())
    else:
        nodes = [(client, list(range(len(calls))))]
    for node, indices in nodes:
        replies = _on_node(runner, node, [calls[i] for i in indices])
        for i, result in zip(indices, replies, strict=True):
            results[i] = result
    return results


def _on_node(runner: ScriptRunner, node: redis.Redis, calls: Sequence[IdleCall]) -> list[Checked]:
    """``calls`` in one exchange with ``node``; those refused with ``NOSCRIPT`` once more
    after loading their script there."""
    out: list[Checked] = [None] * len(calls)
    pending = list(range(len(calls)))
    for attempt in range(2):
        replies, acked = _send(runner, node, [calls[i] for i in pending])
        missing: dict[ScriptSpec, list[int]] = {}
        for i, reply in zip(pending, replies, strict=True):
            if attempt == 0 and isinstance(reply, redis.exceptions.NoScriptError):
                missing.setdefault(calls[i].spec, []).append(i)
            else:
                out[i] = _result(runner, calls[i], reply, acked)
        pending = []
        for spec, indices in missing.items():
            try:
                node.script_load(runner.script(spec).script)
            except redis.RedisError as exc:
                for i in indices:
                    out[i] = script_error(exc, calls[i].partition, calls[i].epoch)
                continue
            pending += indices
        if not pending:
            break
    return out


def _send(
    runner: ScriptRunner, node: redis.Redis, calls: Sequence[IdleCall]
) -> tuple[list[Any], int]:
    """Each call's reply (or error), and how many replicas confirmed them (``WAIT``)."""
    wanted = runner.replication.min_replicas
    payload = [call.packed(runner.script(call.spec).sha) for call in calls]
    if wanted:
        timeout_ms = str(runner.replication.timeout_ms).encode()
        payload.append(b"*3\r\n" + bulk(b"WAIT") + bulk(str(wanted).encode()) + bulk(timeout_ms))
    try:
        replies = exchange(node, b"".join(payload), len(payload))
    except redis.RedisError as exc:
        log.debug("batched idle checks failed: %s", exc)
        return [exc] * len(calls), 0
    if not wanted:
        return replies, 0
    wait = replies.pop()
    return replies, 0 if isinstance(wait, Exception) else int(wait)


def _result(runner: ScriptRunner, call: IdleCall, reply: Any, acked: int) -> Checked:
    if isinstance(reply, redis.RedisError):
        return script_error(reply, call.partition, call.epoch)
    tick = outcome(reply)
    wanted = runner.replication.min_replicas
    if tick is not None and acked < wanted:
        return NotReplicatedError(call.key_list[0], wanted, acked, [reply])
    return tick
