"""Batch mode of a store: its owner's tick hands work to the waiting associates with the
solver, instead of first come, first served.

A store is in batch mode while its owner says so (partition config ``{"batch": true}``,
see :class:`jarvis.actors.store.StoreEngine`): each tick the owner sets the store's
mode key with a short expiry, so when the owner is gone and nobody ticks, the store
falls back to first-come-first-served by itself.

How one waiting get-work goes (an in-store associate of a batch-mode store, asking with
a wait):

1. the request joins the store's waiting set (:meth:`WorkBatch.wait`): member
   ``<associate>|<ticket>``, scored by until when it waits;
2. each tick, the owner (the store engine, :mod:`jarvis.actors.batch`) reads the
   waiting requests (:meth:`WorkBatch.waiting`) and the first items of every class
   queue they may take from (:meth:`WorkBatch.heads`), asks the solver who gets what,
   and claims each chosen item for its request (:meth:`WorkBatch.claim_for`, one fenced
   script, ``work_claim_for.lua``) that refuses if the item left its queue meanwhile or
   the request stopped waiting; the claim goes onto the request's reply list in the same
   script;
3. the request polls its reply list (:meth:`WorkBatch.poll`), and when its wait is over,
   leaves the waiting set and takes a claim made meanwhile in one script
   (:meth:`WorkBatch.give_up`): a claim is never made for a request that left.

The batch-mode mark is written by a fenced script too (:meth:`WorkBatch.set_mode`):
a deposed owner cannot renew it.

Remote associates, and requests that do not wait, are always served first come, first
served (:class:`~jarvis.store.work.queue.WorkQueue`), from any store.

Keys, under the store's hash tag::

    <ns>:{<store>}:work:batch           STRING  present while the store is in batch mode
    <ns>:{<store>}:work:waiting         ZSET    "<associate>|<ticket>" -> waits until
    <ns>:{<store>}:work:reply|<ticket>  LIST    the claim made for that request (JSON)
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic
import redis

from jarvis.errors import StoreError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.keys import PartitionKeys
from jarvis.store.replies import guarded, text
from jarvis.store.specs import WORK_BATCH_MODE, WORK_CLAIM_FOR, WORK_GIVE_UP
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import Claim, WorkQueue
from jarvis.store.work.rules import candidate_classes

__all__ = ["Head", "Ticket", "WorkBatch"]

log = logging.getLogger(__name__)

#: The most waiting requests one tick decides for.
MAX_WAITING = 256


@dataclass(frozen=True, slots=True)
class Ticket:
    """One waiting get-work request."""

    store: str
    associate: str
    ticket: str
    until: float

    @property
    def member(self) -> str:
        return f"{self.associate}|{self.ticket}"


@dataclass(frozen=True, slots=True)
class Head:
    """A queued item the solver may choose: its queue and its place there."""

    item: WorkItem
    queue: str
    score: float


class WorkBatch:
    """The batch-mode side of the dispenser, over ``work``'s Redis and namespace.

    ``reply_ttl_s`` bounds how long an unread claim reply is kept (the claim itself
    lapses with its lease, like any claim nobody completes).
    """

    def __init__(self, work: WorkQueue, *, reply_ttl_s: int = 120) -> None:
        self.work = work
        self.redis = work.redis
        self.namespace = work.namespace
        self.reply_ttl_s = reply_ttl_s
        self.scripts = work.scripts

    # -- keys ---------------------------------------------------------------------------

    def _key(self, store: str, name: str) -> str:
        return PartitionKeys(store, self.namespace).key(name)

    def _reply(self, ticket: Ticket) -> str:
        return self._key(ticket.store, f"work:reply|{ticket.ticket}")

    # -- the store owner ----------------------------------------------------------------

    def set_mode(self, store: str, epoch: int, batch: bool, ttl_s: float) -> None:
        """Say whether ``store`` is in batch mode, for the next ``ttl_s`` seconds (fenced:
        FencedError once a newer owner wrote)."""
        keys = PartitionKeys(store, self.namespace)
        self.scripts.run(
            WORK_BATCH_MODE,
            store,
            {"epoch": keys.epoch, "stats": keys.stats, "mode": keys.key("work:batch")},
            {"on": 1 if batch else 0, "ttl_ms": max(1, int(ttl_s * 1000))},
            epoch=epoch,
        )

    def waiting(self, store: str, now: float, limit: int = MAX_WAITING) -> list[Ticket]:
        """The requests still waiting at ``now``, those whose wait ends first first."""
        key = self._key(store, "work:waiting")
        rows = guarded("read the waiting requests", self.redis.zrangebyscore)(
            key, f"({now!r}", "+inf", start=0, num=limit, withscores=True
        )
        tickets = []
        for member, until in rows:
            associate, _, ticket = text(member).partition("|")
            tickets.append(Ticket(store, associate, ticket, float(until)))
        return tickets

    def heads(self, store: str, associates: Sequence[Associate], depth: int) -> list[Head]:
        """The first ``depth`` items of every class queue any of ``associates`` may take."""
        keys = WorkKeys(store, self.namespace)
        queues = sorted({keys.queue(c) for a in associates for c in candidate_classes(a, store)})
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipe.zrange(queue, 0, depth - 1, withscores=True)
        try:
            ranges = pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"store {store!r}: reading queue heads failed: {exc}") from exc
        found = [
            (queue, text(i), float(s))
            for queue, rows in zip(queues, ranges, strict=True)
            for i, s in rows
        ]
        if not found:
            return []
        raws = guarded("read items", self.redis.hmget)(keys.items, [i for _, i, _ in found])
        heads = []
        for (queue, item_id, score), raw in zip(found, raws, strict=True):
            if raw is None:
                continue
            try:
                item = WorkItem.model_validate_json(raw)
            except pydantic.ValidationError as exc:
                raise StoreError(f"store {store!r}: stored item {item_id!r} is invalid") from exc
            heads.append(Head(item, queue, score))
        return heads

    def claim_for(
        self, store: str, epoch: int, head: Head, ticket: Ticket, now: float
    ) -> Claim | None:
        """Claim ``head``'s item for the waiting request ``ticket`` (fenced); None when
        refused because the item left its queue or the request stopped waiting."""
        keys = WorkKeys(store, self.namespace)
        expires = now + self.work.claim_ttl
        done = self.scripts.run(
            WORK_CLAIM_FOR,
            store,
            {"epoch": keys.partition.epoch, "stats": keys.partition.stats, "items": keys.items,
             "claims": keys.claims, "leases": keys.leases, "work_stats": keys.stats,
             "heads": keys.heads, "queue": head.queue,
             "waiting": self._key(store, "work:waiting"), "reply": self._reply(ticket),
             "attempts": keys.attempts},
            {"item": head.item.id, "associate": ticket.associate, "member": ticket.member,
             "now": float(now), "expires": float(expires), "reply_ttl_s": self.reply_ttl_s},
            epoch=epoch,
        )  # fmt: skip
        if isinstance(done, int):
            return None  # refused: the item left its queue, or the request stopped waiting
        return Claim(head.item, ticket.associate, store, int(text(done)), now, expires, head.score)

    # -- the waiting request ------------------------------------------------------------

    def in_batch_mode(self, store: str) -> bool:
        key = self._key(store, "work:batch")
        return bool(guarded("read the batch mode", self.redis.exists)(key))

    def wait(self, associate: Associate, until: float) -> Ticket:
        """Join the waiting set of ``associate``'s home store until ``until``."""
        ticket = Ticket(associate.home_store, associate.id, uuid.uuid4().hex, until)
        guarded("join the waiting set", self.redis.zadd)(
            self._key(ticket.store, "work:waiting"), {ticket.member: until}
        )
        return ticket

    def poll(self, ticket: Ticket) -> Claim | None:
        """The claim made for ``ticket``, if one was made."""
        return self._decode(ticket, guarded("read a reply", self.redis.lpop)(self._reply(ticket)))

    def give_up(self, ticket: Ticket) -> Claim | None:
        """Stop waiting; returns the claim made for ``ticket`` meanwhile, if any."""
        reply = self.scripts.run(
            WORK_GIVE_UP,
            ticket.store,
            {"waiting": self._key(ticket.store, "work:waiting"), "reply": self._reply(ticket)},
            {"member": ticket.member},
        )
        return self._decode(ticket, reply)

    def _decode(self, ticket: Ticket, reply: Any) -> Claim | None:
        if reply is None:
            return None
        try:
            data = json.loads(text(reply))
            item = WorkItem.model_validate_json(data["w"])
            return Claim(
                item,
                ticket.associate,
                ticket.store,
                int(data["t"]),
                float(data["c"]),
                float(data["e"]),
                float(data["s"]),
            )
        except (ValueError, KeyError, TypeError, pydantic.ValidationError) as exc:
            raise StoreError(f"store {ticket.store!r}: invalid claim reply") from exc
