"""Scripts that are given the queue keys they touch re-check them: a set of queues that
moved since the caller read it is refused (counts, score) or left for later (reap),
never acted on with a key the script was not given."""

from __future__ import annotations

import redis

from jarvis.models.work import Associate, WorkItem
from jarvis.store.specs import WORK_COUNTS, WORK_REAP, WORK_SCORE
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue

STORE = "s1"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_counts_and_score_refuse_a_queue_set_that_misses_a_queue(
    rds: redis.Redis, namespace: str
) -> None:
    work = WorkQueue(rds, namespace)
    work.enqueue(WorkItem(id="w1", store=STORE, role="picker", remotable=True))
    keys = WorkKeys(STORE, namespace)
    counts = work.scripts.run(
        WORK_COUNTS,
        STORE,
        {
            "heads": keys.heads,
            "claims": keys.claims,
            "work_stats": keys.stats,
            "dead_at": keys.dead_at,
        },
        {},
        more_keys=[],
    )
    score = work.scripts.run(
        WORK_SCORE,
        STORE,
        {
            "epoch": keys.partition.epoch,
            "stats": keys.partition.stats,
            "heads": keys.heads,
            "present": keys.present,
            "completions": keys.completions,
        },
        {"now": 0.0, "urgent_until": 0.0, "forget_before": 0.0},
        epoch=1,
    )
    assert (counts, score) == (None, None)
    assert work.counts(STORE)["queued"] == 1  # given every queue, both answer
    assert work.refresh_score(STORE, epoch=1) > 0


def test_reap_leaves_an_item_whose_queue_it_was_not_given(rds: redis.Redis, namespace: str) -> None:
    clock = Clock(1_000_000.0)
    work = WorkQueue(rds, namespace, clock=clock, claim_ttl=10)
    work.register_associate(Associate(id="a1", home_store=STORE, roles=frozenset({"picker"})))
    work.enqueue(WorkItem(id="w1", store=STORE, role="picker"))
    assert work.get_work("a1") is not None
    clock.now += 60
    keys = WorkKeys(STORE, namespace)
    returned = work.scripts.run(
        WORK_REAP,
        STORE,
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
        {"now": clock.now, "limit": 10, "forget_before": 0.0, "max_attempts": 5},
        more_args=[{"item": "w1"}],  # its queue is not among the KEYS
        epoch=1,
    )
    assert returned == 0
    assert work.counts(STORE)["claimed"] == 1
    assert work.reap(STORE, epoch=1) == 1  # the caller that reads the claim first
    assert work.counts(STORE)["queued"] == 1
