"""The store owner's per-tick upkeep of its work queues, each step one fenced script:
lapsed claims back to their queues (``work_reap.lua``) and the store's score for the
remote ranking (``work_score.lua``, which also forgets activity older than
:data:`ACTIVITY_KEEP_S`); and how a script learns the queue keys it touches.

A script may only touch the keys it is given (``KEYS``). Which class queue a claimed
item goes back to is written in its claim, and which queues a store has is the heads
index: both are data, so the caller reads them first and passes the queue keys, and the
script re-checks them atomically (it leaves an item whose claim names another queue for
the next reap; score and counts refuse, and are called again, when the store gained a
queue meanwhile).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from jarvis.errors import StoreError
from jarvis.store.replies import guarded, text
from jarvis.store.specs import WORK_REAP, WORK_SCORE
from jarvis.store.work.keys import WorkKeys

if TYPE_CHECKING:
    from jarvis.store.work.queue import WorkQueue

__all__ = [
    "ACTIVITY_KEEP_S",
    "QUEUE_SET_RETRIES",
    "claimed_queues",
    "reap",
    "refresh_score",
    "store_queues",
]

log = logging.getLogger(__name__)

#: How often a script that checks it was given every queue of the store (counts, score)
#: is called again when a queue appeared between the read of the heads index and the
#: script.
QUEUE_SET_RETRIES = 5
#: Seconds of activity (associates present, completions) a store keeps for the ranking
#: (``jarvis.store.work.ranking``); the score script forgets what is older.
ACTIVITY_KEEP_S = 3600.0


def claimed_queues(work: WorkQueue, store: str, item_ids: list[str]) -> dict[str, str]:
    """The class queue each claimed item of ``item_ids`` came from (claimed ones only)."""
    keys = WorkKeys(store, work.namespace)
    raws = guarded("read claims", work.redis.hmget)(keys.claims, item_ids)
    prefix = keys.partition.key("work:q|")
    found = {}
    for item_id, raw in zip(item_ids, raws, strict=True):
        if raw is None:
            continue
        try:
            queue = str(json.loads(text(raw))["q"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"store {store!r}: claim of {item_id!r} is invalid") from exc
        if not queue.startswith(prefix):
            raise StoreError(f"store {store!r}: claim of {item_id!r} names queue {queue!r}")
        found[item_id] = queue
    return found


def store_queues(work: WorkQueue, store: str) -> list[str]:
    """Every non-empty class queue of ``store`` (the members of its heads index)."""
    keys = WorkKeys(store, work.namespace)
    return sorted(text(q) for q in guarded("list queues", work.redis.zrange)(keys.heads, 0, -1))


def reap(work: WorkQueue, store: str, epoch: int, limit: int = 1000) -> int:
    """Return up to ``limit`` lapsed claims of ``store`` to their queues (an item that
    used up its attempts to the dead set instead); how many.

    Fenced (FencedError once a newer owner wrote). Also forgets completed ids older than
    ``work.done_retention_s``.
    """
    keys = WorkKeys(store, work.namespace)
    now = work.clock()
    lapsed = [
        text(i)
        for i in guarded("read leases", work.redis.zrangebyscore)(
            keys.leases, "-inf", now, start=0, num=int(limit)
        )
    ]
    queues = claimed_queues(work, store, lapsed) if lapsed else {}
    returned = work.scripts.run(
        WORK_REAP,
        store,
        {
            "epoch": keys.partition.epoch,
            "stats": keys.partition.stats,
            "claims": keys.claims,
            "leases": keys.leases,
            "heads": keys.heads,
            "work_stats": keys.stats,
            "done": keys.done,
            "items": keys.items,
            "attempts": keys.attempts,
            "history": keys.history,
            "dead": keys.dead,
            "dead_at": keys.dead_at,
        },
        {
            "now": float(now),
            "limit": int(limit),
            "forget_before": float(now - work.done_retention_s),
            "max_attempts": work.max_attempts,
        },
        more_keys=sorted(set(queues.values())),
        more_args=[{"item": item_id} for item_id in lapsed],
        epoch=epoch,
    )
    if returned:
        log.info("store %s: %d lapsed claims taken back", store, returned)
    return int(returned)


def refresh_score(work: WorkQueue, store: str, epoch: int) -> float:
    """Recompute the store's score and write it into the global ranking.

    The score is computed by a fenced script; the ranking, a global key in its own
    slot, is then written outside it. A deposed owner can at worst write one stale
    score, which the new owner's next tick overwrites: the ranking is advisory, no
    claim depends on it.
    """
    keys = WorkKeys(store, work.namespace)
    now = work.clock()
    for _ in range(QUEUE_SET_RETRIES):
        remotable = [q for q in store_queues(work, store) if q.endswith("|r")]
        reply = work.scripts.run(
            WORK_SCORE,
            store,
            {"epoch": keys.partition.epoch, "stats": keys.partition.stats, "heads": keys.heads,
             "present": keys.present, "completions": keys.completions},
            {"now": float(now), "urgent_until": float(now + work.policy.urgent_horizon_s),
             "forget_before": float(now - ACTIVITY_KEEP_S)},
            more_keys=remotable,
            epoch=epoch,
        )  # fmt: skip
        if reply is not None:
            break
    else:
        raise StoreError(f"store {store!r}: its queues kept changing while scoring")
    score = float(text(reply))
    guarded("write the store ranking", work.redis.zadd)(work.global_keys.ranking, {store: score})
    return score
