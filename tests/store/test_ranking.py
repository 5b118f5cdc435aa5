"""The global view over a real Redis: which stores need help most, with the parts of
each score (queued work weighted by urgency, associates present, recent throughput)."""

from __future__ import annotations

import pytest
import redis

from jarvis.errors import BadInputError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.work.queue import WorkQueue
from jarvis.store.work.ranking import RankingWeights, store_need, store_needs

T0 = 1_700_000_000.0
WEIGHTS = RankingWeights(
    work_weight=1.0, associate_weight=2.0, throughput_weight=1.0, presence_s=600, throughput_s=600
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def wq(rds: redis.Redis, namespace: str, clock: Clock) -> WorkQueue:
    return WorkQueue(rds, namespace, clock=clock, claim_ttl=60)


def _item(item_id: str, store: str, **extra: object) -> WorkItem:
    due = {"due_at": T0 + 7200}
    return WorkItem.model_validate(
        {"id": item_id, "store": store, "role": "picker", **due, **extra}
    )


def _associate(wq: WorkQueue, associate_id: str, store: str) -> None:
    wq.register_associate(Associate(id=associate_id, home_store=store, roles=frozenset({"picker"})))


def test_a_store_with_associates_and_no_work_ranks_below_one_with_work_and_nobody(
    wq: WorkQueue,
) -> None:
    for name in ("ann", "bob"):
        _associate(wq, name, "staffed")
        assert wq.get_work(name) is None  # logged in: asked for work at home, found none
    wq.enqueue(_item("w1", "busy"))
    for store in ("staffed", "busy"):
        wq.refresh_score(store, epoch=1)

    needs = store_needs(wq, WEIGHTS)

    assert [n.store for n in needs] == ["busy", "staffed"]
    busy, staffed = needs
    assert (busy.score, busy.work, busy.queued, busy.associates) == (1.0, 1, 1, 0)
    assert (staffed.score, staffed.work, staffed.associates) == (-4.0, 0, 2)


def test_urgent_and_overdue_work_weighs_more_and_priority_brings_it_forward(
    wq: WorkQueue, clock: Clock
) -> None:
    wq.enqueue_many(
        [
            _item("later", "s1"),
            _item("soon", "s1", due_at=T0 + 900),  # start-by within the urgent horizon
            _item("late", "s1", due_at=T0 + 300),  # start-by (due - 300 s) is now
        ]
    )
    clock.now += 1  # "late" is past its start-by now
    need = store_need(wq, "s1", WEIGHTS)
    assert (need.work, need.queued, need.overdue_s) == (1 + 2 + 4, 3, 1.0)
    wq.update("s1", "later", {"priority": 100})  # 100 minutes earlier: within the horizon
    assert store_need(wq, "s1", WEIGHTS).work == 2 + 2 + 4


def test_recent_completions_lower_the_score_and_old_ones_are_forgotten(
    wq: WorkQueue, clock: Clock
) -> None:
    _associate(wq, "ann", "s1")
    wq.enqueue_many([_item(f"w{i}", "s1", remotable=True) for i in range(5)])
    for _ in range(3):
        claim = wq.get_work("ann")
        assert claim is not None
        wq.complete("s1", claim.item.id, "ann", claim.token)
    need = store_need(wq, "s1", WEIGHTS)
    # 2 queued, 1 associate present, 3 completions in 10 minutes: 0.3 per minute.
    assert (need.work, need.remotable, need.associates, need.completions) == (2, 2, 1, 3)
    assert need.completions_per_min == pytest.approx(0.3)
    assert need.score == pytest.approx(2 - 2 - 0.3)

    clock.now += 601  # past both windows: nobody present, no recent completions
    later = store_need(wq, "s1", WEIGHTS)
    assert (later.associates, later.completions) == (0, 0)
    wq.refresh_score("s1", epoch=1)  # the owner's tick forgets activity past an hour
    clock.now += 3600
    wq.refresh_score("s1", epoch=1)
    keys = wq.redis
    assert keys.zcard(f"{wq.namespace}:{{s1}}:work:completions") == 0
    assert keys.zcard(f"{wq.namespace}:{{s1}}:work:present") == 0


def test_a_heartbeat_keeps_its_holder_present_and_remote_askers_do_not_count(
    rds: redis.Redis, namespace: str, clock: Clock
) -> None:
    wq = WorkQueue(rds, namespace, clock=clock, claim_ttl=900)
    _associate(wq, "ann", "s1")
    wq.register_associate(
        Associate(
            id="rem", home_store="hq", roles=frozenset({"picker"}), remote=True, stores=("s1",)
        )
    )
    wq.enqueue(_item("w1", "s1"))  # store-bound: rem may not take it
    wq.refresh_score("s1", epoch=1)
    assert wq.get_work("rem") is None
    assert store_need(wq, "s1", WEIGHTS).associates == 0
    claim = wq.get_work("ann")
    assert claim is not None
    clock.now += 500
    wq.heartbeat("s1", "w1", "ann", claim.token)
    clock.now += 500  # 1000 s after ann asked, 500 s after its heartbeat
    assert store_need(wq, "s1", WEIGHTS).associates == 1


def test_ranking_weights_are_checked() -> None:
    with pytest.raises(BadInputError, match="associate_weight"):
        RankingWeights(associate_weight=-1)
    with pytest.raises(BadInputError, match="presence_s"):
        RankingWeights(presence_s=3601)
    with pytest.raises(BadInputError, match="limit"):
        store_needs(None, WEIGHTS, limit=0)  # type: ignore[arg-type]
