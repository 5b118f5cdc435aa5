"""The global view: which stores need help most, and why.

Each store's need is measured in Redis, on the store's own keys, by one read-only
script (``work_need.lua``), and scored with configurable weights::

    score = work_weight * work
          - associate_weight * associates
          - throughput_weight * completions_per_min

- ``work``: each queued item counts 1, 2 if its start-by time falls within the urgent
  horizon (``WorkPolicy.urgent_horizon_s``), 4 if its start-by time has passed. An
  item's priority brings its start-by forward, and an item that waits long passes its
  start-by: both raise the score.
- ``associates``: associates present at the store in the last ``presence_s`` seconds:
  an in-store associate that asked for work at its home store, or anyone who claimed
  work or heartbeated a claim there (ZSET ``work:present``, written by get-work and
  heartbeat).
- ``completions_per_min``: items completed at the store in the last ``throughput_s``
  seconds (ZSET ``work:completions``, written by complete and ``work_completed``), per
  minute.

A higher score needs help more; a negative one has people or pace to spare. Which
stores are listed: every store whose owner has run a full tick (the members of the
remote ranking, ``<ns>:global:work:stores``; a store that never had work may not be
there) and the store partitions the caller names (HTTP: every store partition in
ZooKeeper). The remote ranking that routes remote associates
is not this score: it is the store's urgency-weighted *remotable* load (what a remote
associate may take), written by the owner's tick (:func:`upkeep.refresh_score`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from jarvis.errors import BadInputError, StoreError
from jarvis.store.replies import guarded, text
from jarvis.store.specs import WORK_NEED
from jarvis.store.work import upkeep
from jarvis.store.work.keys import WorkKeys

if TYPE_CHECKING:
    from jarvis.store.work.queue import WorkQueue

__all__ = ["FORMULA", "RankingWeights", "StoreNeed", "store_need", "store_needs"]

#: The formula, as the HTTP answer and the CLI state it.
FORMULA = (
    "score = work_weight * work - associate_weight * associates"
    " - throughput_weight * completions_per_min"
)


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """The weights and windows of the need score (see the module docstring)."""

    work_weight: float = 1.0
    associate_weight: float = 2.0
    throughput_weight: float = 1.0
    presence_s: float = 600.0
    throughput_s: float = 900.0

    def __post_init__(self) -> None:
        for name in ("work_weight", "associate_weight", "throughput_weight"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value < math.inf):
                raise BadInputError(f"ranking {name} must be a finite number >= 0: {value!r}")
        for name in ("presence_s", "throughput_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value <= upkeep.ACTIVITY_KEEP_S):
                raise BadInputError(
                    f"ranking {name} must be in (0, {upkeep.ACTIVITY_KEEP_S:g}] s: {value!r}"
                )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StoreNeed:
    """One store's score and its parts."""

    store: str
    score: float
    work: int
    queued: int
    remotable: int
    overdue_s: float
    associates: int
    completions: int
    completions_per_min: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def store_need(work: WorkQueue, store: str, weights: RankingWeights) -> StoreNeed:
    """``store``'s need now (one read-only script; read again if a queue appeared)."""
    keys = WorkKeys(store, work.namespace)
    now = work.clock()
    for _ in range(upkeep.QUEUE_SET_RETRIES):
        reply = work.scripts.run(
            WORK_NEED,
            store,
            {"heads": keys.heads, "present": keys.present, "completions": keys.completions},
            {"urgent_until": float(now + work.policy.urgent_horizon_s), "now": float(now),
             "present_since": float(now - weights.presence_s),
             "completions_since": float(now - weights.throughput_s)},
            more_keys=upkeep.store_queues(work, store),
        )  # fmt: skip
        if reply is not None:
            break
    else:
        raise StoreError(f"store {store!r}: its queues kept changing while measuring its need")
    load, queued, remotable, associates, completions = (int(v) for v in reply[:5])
    per_min = completions * 60.0 / weights.throughput_s
    score = (
        weights.work_weight * load
        - weights.associate_weight * associates
        - weights.throughput_weight * per_min
    )
    return StoreNeed(
        store=store,
        score=round(score, 6),
        work=load,
        queued=queued,
        remotable=remotable,
        overdue_s=float(text(reply[5])),
        associates=associates,
        completions=completions,
        completions_per_min=round(per_min, 6),
    )


def store_needs(
    work: WorkQueue, weights: RankingWeights, limit: int = 100, also: Iterable[str] = ()
) -> list[StoreNeed]:
    """The ``limit`` neediest stores, highest score first (ties by store id): the stores
    of the remote ranking and those in ``also`` (the store partitions a caller knows)."""
    if limit < 1:
        raise BadInputError(f"limit must be at least 1, got {limit!r}")
    ranked = guarded("read the store ranking", work.redis.zrange)(work.global_keys.ranking, 0, -1)
    stores = sorted({text(s) for s in ranked} | set(also))
    needs = [store_need(work, store, weights) for store in stores]
    needs.sort(key=lambda n: (-n.score, n.store))
    return needs[:limit]
