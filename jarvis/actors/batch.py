"""Batch mode of a store, decided by its owner's tick: the associates waiting for work
get it from the solver (:func:`jarvis.models.decide_store`), not first come, first
served.

The store layer gives the reads and the fenced claim
(:class:`~jarvis.store.work.batch.WorkBatch`); this module composes them with the
solver. The solver decides how many items of each eligibility class go to whom; which
items of a class leave is still queue order (every item of a class is eligible for the
same associates, so the solver's picks are swapped for the class's first items). With
dequeue rules that tell items of one class apart (a minimum priority), a swap the rules
refuse is not made: that class keeps the solver's own picks.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from jarvis.errors import BadInputError, UnknownAssociateError
from jarvis.models.config import StoreConfig
from jarvis.models.rules import Rules
from jarvis.models.solver import decide_store
from jarvis.models.work import Associate
from jarvis.store.work.batch import Head, Ticket, WorkBatch
from jarvis.store.work.queue import Claim

__all__ = ["assign_waiting"]

log = logging.getLogger(__name__)


def assign_waiting(
    batch: WorkBatch,
    store: str,
    epoch: int,
    now: float,
    config: StoreConfig | None = None,
    rules: Rules | None = None,
) -> list[Claim]:
    """Decide for the requests waiting in ``store`` and claim what the solver chose.

    Each claim is one fenced script (FencedError once a newer owner wrote). Returns the
    claims made.
    """
    people: dict[str, tuple[Ticket, Associate]] = {}
    for ticket in batch.waiting(store, now):
        if ticket.associate in people:
            continue  # one request per associate per tick
        try:
            associate = batch.work.associate(ticket.associate)
        except (UnknownAssociateError, BadInputError):
            continue  # it waits out its time and gets nothing
        if not associate.remote and associate.home_store == store:
            people[associate.id] = (ticket, associate)
    if not people:
        return []
    associates = [a for _, a in people.values()]
    heads = batch.heads(store, associates, len(people))
    if not heads:
        return []
    decision = decide_store(
        [h.item for h in heads], associates, now, config or StoreConfig(), rules
    )
    chosen = {a.task: a.worker for a in decision.assignments}
    claims = []
    for head, associate_id in _in_queue_order(heads, chosen, people, rules).items():
        ticket, _ = people[associate_id]
        claim = batch.claim_for(store, epoch, head, ticket, now)
        if claim is not None:
            claims.append(claim)
    if claims:
        log.debug("store %s: %d claims for %d waiting", store, len(claims), len(people))
    return claims


def _in_queue_order(
    heads: Sequence[Head],
    chosen: dict[str, str],
    people: dict[str, tuple[Ticket, Associate]],
    rules: Rules | None,
) -> dict[Head, str]:
    """The solver's picks (item id -> associate id) with each class's picks moved to the
    class's first items, in order; a class whose swap a rule refuses keeps the picks."""
    by_queue: dict[str, list[Head]] = defaultdict(list)
    for head in heads:
        by_queue[head.queue].append(head)
    out: dict[Head, str] = {}
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
