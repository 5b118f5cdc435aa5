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
2. each tick, the owner reads the waiting requests (one per associate) and the first
   items of every class queue they may take from, asks the solver
   (:func:`jarvis.models.decide_store`) who gets what, and claims each chosen item for
   its request with one fenced script (``work_claim_for.lua``) that refuses if the item
   left its queue meanwhile or the request stopped waiting; the claim goes onto the
   request's reply list in the same script;
3. the request polls its reply list (:meth:`WorkBatch.poll`), and when its wait is over,
   leaves the waiting set and takes a claim made meanwhile in one script
   (:meth:`WorkBatch.give_up`): a claim is never made for a request that left.

The solver decides how many items of each eligibility class go to whom; which items of
a class leave is still queue order (every item of a class is eligible for the same
associates, so the solver's picks are swapped for the class's first items). With
dequeue rules that tell items of one class apart (a minimum priority), a swap the rules
refuse is not made: that class keeps the solver's own picks.

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
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic
import redis
from redis.commands.core import Script

from jarvis.errors import BadInputError, StoreError, UnknownAssociateError
from jarvis.models.config import StoreConfig
from jarvis.models.rules import Rules
from jarvis.models.solver import decide_store
from jarvis.models.work import Associate, WorkItem
from jarvis.store.keys import PartitionKeys
from jarvis.store.scripts import source
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import Claim, WorkQueue
from jarvis.store.work.rules import candidate_classes
from jarvis.store.work.scripts import guarded, run, text

__all__ = ["Ticket", "WorkBatch"]

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
class _Head:
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
        self._claim_for: Script = self.redis.register_script(
            source("fence") + "\n" + source("work_claim_for", fenced=False)
        )
        self._give_up: Script = self.redis.register_script(source("work_give_up", fenced=False))

    # -- keys ---------------------------------------------------------------------------

    def _key(self, store: str, name: str) -> str:
        return PartitionKeys(store, self.namespace).key(name)

    def _reply(self, ticket: Ticket) -> str:
        return self._key(ticket.store, f"work:reply|{ticket.ticket}")

    # -- the store owner ----------------------------------------------------------------

    def set_mode(self, store: str, batch: bool, ttl_s: float) -> None:
        """Say whether ``store`` is in batch mode, for the next ``ttl_s`` seconds."""
        key = self._key(store, "work:batch")
        if batch:
            guarded("set the batch mode", self.redis.set)(key, "1", px=max(1, int(ttl_s * 1000)))
        else:
            guarded("clear the batch mode", self.redis.delete)(key)

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

    def assign(
        self,
        store: str,
        epoch: int,
        now: float,
        config: StoreConfig | None = None,
        rules: Rules | None = None,
    ) -> list[Claim]:
        """Decide for the requests waiting in ``store`` and claim what the solver chose.

        Fenced (FencedError once a newer owner wrote). Returns the claims made.
        """
        people: dict[str, tuple[Ticket, Associate]] = {}
        for ticket in self.waiting(store, now):
            if ticket.associate in people:
                continue  # one request per associate per tick
            try:
                associate = self.work.associate(ticket.associate)
            except (UnknownAssociateError, BadInputError):
                continue  # it waits out its time and gets nothing
            if not associate.remote and associate.home_store == store:
                people[associate.id] = (ticket, associate)
        if not people:
            return []
        heads = self._heads(store, [a for _, a in people.values()], len(people))
        if not heads:
            return []
        associates = [a for _, a in people.values()]
        decision = decide_store(
            [h.item for h in heads], associates, now, config or StoreConfig(), rules
        )
        chosen = {a.task: a.worker for a in decision.assignments}
        claims = []
        for head, associate_id in _in_queue_order(heads, chosen, people, rules).items():
            ticket, _ = people[associate_id]
            claim = self._claim(store, epoch, head, ticket, now)
            if claim is not None:
                claims.append(claim)
        if claims:
            log.debug("store %s: %d claims for %d waiting", store, len(claims), len(people))
        return claims

    def _heads(self, store: str, associates: Sequence[Associate], depth: int) -> list[_Head]:
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
            heads.append(_Head(item, queue, score))
        return heads

    def _claim(
        self, store: str, epoch: int, head: _Head, ticket: Ticket, now: float
    ) -> Claim | None:
        keys = WorkKeys(store, self.namespace)
        expires = now + self.work.claim_ttl
        done = run(
            self._claim_for,
            [
                keys.partition.epoch,
                keys.partition.stats,
                keys.items,
                keys.claims,
                keys.leases,
                keys.stats,
                keys.heads,
                head.queue,
                self._key(store, "work:waiting"),
                self._reply(ticket),
            ],
            [
                str(epoch),
                head.item.id,
                ticket.associate,
                ticket.member,
                repr(float(now)),
                repr(float(expires)),
                str(self.reply_ttl_s),
            ],
            store,
            epoch,
        )
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
        reply = run(
            self._give_up,
            [self._key(ticket.store, "work:waiting"), self._reply(ticket)],
            [ticket.member],
            ticket.store,
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


def _in_queue_order(
    heads: Sequence[_Head],
    chosen: dict[str, str],
    people: dict[str, tuple[Ticket, Associate]],
    rules: Rules | None,
) -> dict[_Head, str]:
    """The solver's picks (item id -> associate id) with each class's picks moved to the
    class's first items, in order; a class whose swap a rule refuses keeps the picks."""
    by_queue: dict[str, list[_Head]] = defaultdict(list)
    for head in heads:
        by_queue[head.queue].append(head)
    out: dict[_Head, str] = {}
    for row in by_queue.values():
        row.sort(key=lambda h: (h.score, h.item.id))
        picks = [h for h in row if h.item.id in chosen]
        swapped = dict(zip(row[: len(picks)], (chosen[h.item.id] for h in picks), strict=True))
        if rules is not None and any(
            rules.refuses_item(people[who][1], head.item) for head, who in swapped.items()
        ):
            swapped = {h: chosen[h.item.id] for h in picks}
        out.update(swapped)
    return out
