"""The store work dispenser's Redis side: enqueue, get-work, complete, release,
heartbeat, and the store owner's per-tick reap and score.

Every request for a store is one atomic Lua script on that store's keys (one hash tag,
one Redis Cluster slot), so the rules hold across any number of members serving
requests at once:

- get-work claims the best item the associate may take from the heads of its candidate
  class queues (see :mod:`jarvis.store.work.rules`; a per-store index of queue heads
  usually finds it in one read, see ``work_get.lua``), removes it from its queue and
  writes the claim and its lease in the same script: no item is ever handed out twice;
- complete, release and heartbeat are accepted only from the claim's holder while its
  lease holds (:class:`~jarvis.errors.NotClaimedError` otherwise);
- a lapsed lease is turned back into a queued item by :meth:`WorkQueue.reap`, fenced
  by the store owner's epoch, in the script that deletes the claim: exactly once.

Remote work: a remote associate (or an in-store one with nothing to do at home) is
served by the store that needs help most among those it is qualified for. Each store
owner's tick writes the store's score (prioritised open remotable load) into one global
sorted set; get-work reads the associate's stores' scores in one round trip and tries
them best first, one store script per attempt, at most ``max_store_attempts`` of them.
Stores further down are not tried for that request: the associate gets ``None`` and
asks again, by when the ranking has moved on. Store-bound work never leaves its store:
outside the associate's home store only remotable class queues are candidates.

Times come from the injected ``clock`` (seconds) of the member serving the request, so
members' clocks must agree to well within a lease (NTP); tests drive the clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import pydantic
import redis

from jarvis.errors import BadInputError, StoreError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.keys import DEFAULT_NAMESPACE
from jarvis.store.replication import RedisClient
from jarvis.store.replies import guarded, text
from jarvis.store.runner import ScriptRunner
from jarvis.store.specs import (
    WORK_COMPLETE,
    WORK_COUNTS,
    WORK_ENQUEUE,
    WORK_GET,
    WORK_HEARTBEAT,
    WORK_RELEASE,
    Arg,
)
from jarvis.store.work import changes, dead, upkeep
from jarvis.store.work.associates import AssociateDirectory
from jarvis.store.work.dead import DeadItem
from jarvis.store.work.keys import GlobalWorkKeys, WorkKeys
from jarvis.store.work.rules import (
    EnqueueRules,
    WorkPolicy,
    candidate_classes,
    check_id,
    item_class,
    start_by,
)
from jarvis.store.work.signals import WorkSignals, read_signals

__all__ = ["Claim", "QueuedWork", "WorkQueue"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed work item: who holds it, since when, until when.

    ``token`` numbers the claims of a store in the order they were made (it is also the
    claim's fencing token: pass it to complete/release/heartbeat to act only on this
    very claim, not on a later claim of the same item by the same associate).
    ``start_by`` is the item's queue score.
    """

    item: WorkItem
    associate: str
    store: str
    token: int
    claimed_at: float
    expires_at: float
    start_by: float


class QueuedWork(NamedTuple):
    """A queued item and its queue score (start-by time; earliest leaves first)."""

    item: WorkItem
    start_by: float


@lru_cache(maxsize=65536)
def _work_keys(store: str, namespace: str) -> WorkKeys:
    return WorkKeys(store, namespace)


@lru_cache(maxsize=65536)
def _candidate_queues(associate: Associate, store: str, namespace: str) -> tuple[str, ...]:
    keys = _work_keys(store, namespace)
    return tuple(keys.queue(c) for c in candidate_classes(associate, store))


class WorkQueue:
    """The work dispenser over one Redis (see the module docstring).

    ``claim_ttl`` is the lease of a claim in seconds (extended by :meth:`heartbeat`);
    ``max_queues`` bounds what one get-work script reads: the first entries of the
    store's heads index, and then, past that, the head of each candidate class queue (an
    associate whose roles and licences span more queues is refused with
    BadInputError at registration);
    ``max_store_attempts`` bounds the stores one remote get-work tries;
    ``associate_cache_s`` is how long get-work trusts an associate record it has read
    (so a change to an associate reaches every member within that time; 0: read each time);
    ``max_attempts`` is the store default of how many claims an item may have before a
    claim that comes back (lapsed or released) sends it to the dead set (an item's own
    ``max_attempts`` wins).
    """

    def __init__(
        self,
        redis: RedisClient,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        claim_ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_queues: int = 64,
        max_store_attempts: int = 8,
        rules: EnqueueRules | None = None,
        policy: WorkPolicy | None = None,
        done_retention_s: float = 86400.0,
        associate_cache_s: float = 5.0,
        scripts: ScriptRunner | None = None,
        max_attempts: int = 25,
    ) -> None:
        if not 0 < claim_ttl < float("inf"):
            raise BadInputError(f"claim_ttl must be a positive number of seconds: {claim_ttl}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise BadInputError(f"max_attempts must be an integer >= 1: {max_attempts!r}")
        if max_queues < 1 or max_store_attempts < 1:
            raise BadInputError("max_queues and max_store_attempts must be at least 1")
        self.redis = redis
        self.namespace = namespace
        self.claim_ttl = float(claim_ttl)
        self.clock = clock
        self.max_queues = max_queues
        self.max_store_attempts = max_store_attempts
        self.max_attempts = max_attempts
        self.rules = rules or EnqueueRules()
        self.policy = policy or WorkPolicy()
        self.done_retention_s = done_retention_s
        self.global_keys = GlobalWorkKeys(namespace)
        self.associates = AssociateDirectory(
            redis, namespace, max_queues=max_queues, cache_s=associate_cache_s
        )
        self.scripts = scripts or ScriptRunner(redis)

    # -- associates -------------------------------------------------------------------

    def register_associate(self, associate: Associate) -> None:
        """Store (or replace) ``associate`` so get-work can find it by id."""
        self.associates.register(associate)

    def associate(self, associate_id: str) -> Associate:
        """The registered associate; :class:`UnknownAssociateError` if there is none."""
        return self.associates.get(associate_id)

    # -- enqueue ----------------------------------------------------------------------

    def enqueue(self, item: WorkItem) -> bool:
        """Queue ``item``; False if its id is already queued, claimed or recently done.

        Bad input (not a WorkItem, a store id that cannot be a partition, an item the
        enqueue rules refuse) raises BadInputError before anything is written.
        """
        return self.enqueue_many([item]) == 1

    def enqueue_many(self, items: Iterable[WorkItem]) -> int:
        """Queue several items in one pipeline; returns how many were new.

        Every item is checked before any is written. Each item is still queued by its
        own atomic script, so a failure part-way leaves whole items, never half of one.
        """
        now = self.clock()
        calls = [self._enqueue_call(item, now) for item in items]
        added = sum(int(r) for r in self.scripts.run_many(WORK_ENQUEUE, calls))
        log.debug("enqueued %d of %d work items", added, len(calls))
        return added

    def _enqueue_call(
        self, item: WorkItem, now: float
    ) -> tuple[str, dict[str, str], dict[str, Arg]]:
        if not isinstance(item, WorkItem):
            raise BadInputError(f"not a WorkItem: {type(item).__name__}")
        self.rules.check(item)
        keys = _work_keys(item.store, self.namespace)
        if item.created_at == 0.0:
            item = item.model_copy(update={"created_at": now})
        score = start_by(item, now, self.policy)
        queue = keys.queue(item_class(item))
        return (
            item.store,
            {"items": keys.items, "done": keys.done, "queue": queue, "heads": keys.heads,
             "work_stats": keys.stats},
            {"item": item.id, "json": item.model_dump_json(), "score": float(score)},
        )  # fmt: skip

    # -- get-work ---------------------------------------------------------------------

    def get_work(self, associate_id: str) -> Claim | None:
        """Claim the highest-priority item ``associate_id`` may take, or None.

        An in-store associate is served from its home store first (bound and remotable
        work); then, and for remote associates only, from the best-ranked stores it is
        qualified for (remotable work only).
        """
        associate = self.associate(associate_id)
        if not associate.remote:
            claim = self._claim_in(associate.home_store, associate)
            if claim is not None:
                return claim
        for store in self._ranked_stores(associate):
            claim = self._claim_in(store, associate)
            if claim is not None:
                return claim
        return None

    def _ranked_stores(self, associate: Associate) -> list[str]:
        stores = sorted(
            s for s in associate.stores if associate.remote or s != associate.home_store
        )
        if not stores:
            return []
        scores = guarded("read the store ranking", self.redis.zmscore)(
            self.global_keys.ranking, stores
        )
        ranked = sorted(zip(stores, scores, strict=True), key=lambda p: (-(p[1] or 0.0), p[0]))
        return [store for store, _ in ranked[: self.max_store_attempts]]

    def _claim_in(self, store: str, associate: Associate) -> Claim | None:
        queues = _candidate_queues(associate, store, self.namespace)
        if not queues:
            return None
        if len(queues) > self.max_queues:
            raise BadInputError(
                f"associate {associate.id!r} may take work from {len(queues)} queues in "
                f"store {store!r}, more than the {self.max_queues} one get-work looks at"
            )
        keys = _work_keys(store, self.namespace)
        now = self.clock()
        expires = now + self.claim_ttl
        reply = self.scripts.run(
            WORK_GET,
            store,
            {"items": keys.items, "claims": keys.claims, "leases": keys.leases,
             "work_stats": keys.stats, "heads": keys.heads, "attempts": keys.attempts,
             "present": keys.present},
            {"associate": associate.id, "now": float(now), "expires": float(expires),
             "scan": self.max_queues,
             "home": "1" if not associate.remote and store == associate.home_store else "0"},
            more_keys=queues,
        )  # fmt: skip
        if not reply:
            return None
        item_id, raw, token, score = (text(v) for v in reply)
        try:
            item = WorkItem.model_validate_json(raw)
        except pydantic.ValidationError as exc:
            raise StoreError(f"store {store!r}: stored item {item_id!r} is invalid") from exc
        return Claim(item, associate.id, store, int(token), now, expires, float(score))

    # -- the holder's calls -----------------------------------------------------------

    def complete(
        self, store: str, item_id: str, associate_id: str, token: int | None = None
    ) -> None:
        """Mark a held item done. NotClaimedError unless this associate holds it."""
        keys, args = self._holder_args(store, item_id, associate_id, token)
        self.scripts.run(
            WORK_COMPLETE,
            store,
            {"items": keys.items, "claims": keys.claims, "leases": keys.leases,
             "done": keys.done, "work_stats": keys.stats, "attempts": keys.attempts,
             "history": keys.history, "cancelled": keys.cancelled,
             "completions": keys.completions},
            args,
        )  # fmt: skip

    def release(
        self, store: str, item_id: str, associate_id: str, token: int | None = None
    ) -> bool:
        """Give a held item back to its queue, at its old place; False when it used up its
        attempts and went to the dead set instead. NotClaimedError if not held."""
        keys, args = self._holder_args(store, item_id, associate_id, token)
        queue = upkeep.claimed_queues(self, store, [item_id]).get(item_id)
        if queue is None:  # the script answers why (not claimed, or cancelled)
            queue = keys.partition.key("work:q|none")
        reply = self.scripts.run(
            WORK_RELEASE,
            store,
            {"claims": keys.claims, "leases": keys.leases, "heads": keys.heads, "queue": queue,
             "work_stats": keys.stats, "items": keys.items, "attempts": keys.attempts,
             "history": keys.history, "dead": keys.dead, "dead_at": keys.dead_at,
             "cancelled": keys.cancelled},
            {**args, "max_attempts": self.max_attempts},
        )  # fmt: skip
        return int(reply) == 1

    def heartbeat(
        self, store: str, item_id: str, associate_id: str, token: int | None = None
    ) -> float:
        """Extend a held claim's lease by ``claim_ttl`` from now; returns the new expiry."""
        keys, args = self._holder_args(store, item_id, associate_id, token)
        expires = float(args["now"]) + self.claim_ttl
        self.scripts.run(
            WORK_HEARTBEAT,
            store,
            {"claims": keys.claims, "leases": keys.leases, "cancelled": keys.cancelled,
             "present": keys.present},
            {**args, "expires": expires},
        )  # fmt: skip
        return expires

    def _holder_args(
        self, store: str, item_id: str, associate_id: str, token: int | None
    ) -> tuple[WorkKeys, dict[str, Arg]]:
        keys = _work_keys(store, self.namespace)
        check_id(item_id, "work item")
        check_id(associate_id, "associate")
        if token is not None and (isinstance(token, bool) or not isinstance(token, int)):
            raise BadInputError(f"invalid claim token {token!r}")
        return keys, {
            "item": item_id,
            "associate": associate_id,
            "now": float(self.clock()),
            "token": "" if token is None else str(token),
        }

    # -- the store owner's tick (fenced; see jarvis.store.work.upkeep) ----------------

    def reap(self, store: str, epoch: int, limit: int = 1000) -> int:
        """Return up to ``limit`` lapsed claims to their queues; returns how many.

        Fenced: FencedError if a newer owner of ``store`` has written. Also forgets
        completed ids older than ``done_retention_s`` (so a resubmission is new again).
        """
        return upkeep.reap(self, store, epoch, limit)

    def refresh_score(self, store: str, epoch: int) -> float:
        """Recompute the store's score (fenced) and write it into the global ranking."""
        return upkeep.refresh_score(self, store, epoch)

    # -- cancel and update (see jarvis.store.work.changes) ------------------------------

    def cancel(self, store: str, item_id: str) -> bool:
        """Cancel an item, queued, claimed or dead; False if it was cancelled already.
        NotFoundError if the store does not have it (never, or done)."""
        return changes.cancel(self, store, item_id)

    def update(self, store: str, item_id: str, fields: Mapping[str, object]) -> str:
        """Change an item's ``priority``, ``due_at`` or ``duration_s`` in place; returns
        where it is (queued, claimed, dead). NotFoundError if the store does not have it."""
        return changes.update(self, store, item_id, fields)

    # -- the dead set (see jarvis.store.work.dead) --------------------------------------

    def dead_items(self, store: str, limit: int = 100) -> list[DeadItem]:
        """The first ``limit`` items of the store's dead set, oldest death first."""
        return dead.dead_items(self, store, limit)

    def retry_dead(self, store: str, item_id: str) -> None:
        """Queue a dead item again (attempts from zero). NotFoundError if not dead."""
        dead.retry(self, store, item_id)

    def discard_dead(self, store: str, item_id: str) -> None:
        """Drop a dead item for good. NotFoundError if not dead."""
        dead.discard(self, store, item_id)

    # -- reading ----------------------------------------------------------------------

    def queue(self, store: str, limit: int = 100) -> list[QueuedWork]:
        """The first ``limit`` queued items of ``store``, all classes merged, best first."""
        keys = _work_keys(store, self.namespace)
        if limit < 1:
            return []
        queues = upkeep.store_queues(self, store)
        pipe = self.redis.pipeline(transaction=True)
        for q in queues:
            pipe.zrange(q, 0, limit - 1, withscores=True)
        try:
            heads = pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"store {store!r}: listing the queue failed: {exc}") from exc
        best = sorted(((float(s), text(i)) for head in heads for i, s in head))[:limit]
        if not best:
            return []
        raws = guarded("read items", self.redis.hmget)(keys.items, [i for _, i in best])
        return [
            QueuedWork(WorkItem.model_validate_json(raw), score)
            for (score, _), raw in zip(best, raws, strict=True)
            if raw is not None  # completed between the two reads
        ]

    def counts(self, store: str) -> dict[str, int]:
        """One consistent snapshot: queued, claimed, done, submitted, remotable (queued),
        lapsed, released, dead (in the dead set now), discarded and cancelled.
        ``queued + claimed + done + dead + discarded + cancelled == submitted`` holds."""
        keys = _work_keys(store, self.namespace)
        for _ in range(upkeep.QUEUE_SET_RETRIES):
            reply = self.scripts.run(
                WORK_COUNTS,
                store,
                {
                    "heads": keys.heads,
                    "claims": keys.claims,
                    "work_stats": keys.stats,
                    "dead_at": keys.dead_at,
                },
                {},
                more_keys=upkeep.store_queues(self, store),
            )
            if reply is not None:
                break
        else:
            raise StoreError(f"store {store!r}: its queues kept changing while counting")
        names = ("queued", "claimed", "done", "submitted", "remotable", "lapsed", "released",
                 "dead", "discarded", "cancelled")  # fmt: skip
        return dict(zip(names, (int(v) for v in reply), strict=True))

    def signals(self, store: str) -> WorkSignals:
        """The store's stuck-work signals (see :mod:`jarvis.store.work.signals`)."""
        return read_signals(self, store)

    def ranking(self, limit: int = 100) -> list[tuple[str, float]]:
        """The global store ranking, neediest first."""
        rows = guarded("read the store ranking", self.redis.zrevrange)(
            self.global_keys.ranking, 0, limit - 1, withscores=True
        )
        return [(text(store), float(score)) for store, score in rows]
